/* smartdistricts: the portal's map (/mapa, /en/map).
 *
 * Draws the data the page embeds (<script type="application/json" id="map-data">, the same as
 * the page's JSON twin) with Leaflet: the district boundaries, one marker per site coloured by
 * its CAQI level and showing its value, and a popup with the site's air box. Tiles come from
 * the configured tile server; without tiles (none configured, or they fail to load) the
 * districts and markers are still drawn on a plain background. Texts are set with textContent,
 * never as HTML.
 */
(function () {
  "use strict";
  var holder = document.getElementById("map");
  var source = document.getElementById("map-data");
  if (!holder || !source || !window.L) {
    return;
  }
  var L = window.L;
  var payload = JSON.parse(source.textContent);
  var data = payload.data;
  var texts = payload.texts;

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function popup(site) {
    var box = site.box;
    var root = el("div", null, "sd-popup");
    var title = el("h2");
    var link = el("a", site.name);
    link.href = site.url;
    title.appendChild(link);
    root.appendChild(title);
    var index = el("p", null, "sd-popup-index");
    var badge = el("span", box.index.text, "sd-badge");
    badge.style.background = box.index.color;
    badge.style.color = box.index.text_color;
    index.appendChild(badge);
    index.appendChild(document.createTextNode(" " + texts.index + ": " + box.index.description));
    root.appendChild(index);
    if (box.message) {
      root.appendChild(el("p", box.message));
    }
    if (box.items.length) {
      var list = el("dl", null, "sd-popup-values");
      box.items.forEach(function (item) {
        var dt = el("dt", item.label);
        var dd = el("dd", item.display);
        dd.setAttribute("data-name", item.name);
        list.appendChild(dt);
        list.appendChild(dd);
      });
      root.appendChild(list);
    }
    if (box.footer) {
      root.appendChild(el("p", box.footer, "sd-popup-foot"));
    }
    var more = el("a", texts.open);
    more.href = site.url;
    var p = el("p");
    p.appendChild(more);
    root.appendChild(p);
    return root;
  }

  function icon(site) {
    var box = site.box;
    var inner = el("span", box.index.text, "sd-marker-value");
    inner.style.background = box.index.color;
    inner.style.color = box.index.text_color;
    inner.setAttribute("data-site", String(site.id));
    return L.divIcon({ className: "sd-marker", html: inner, iconSize: [34, 34], iconAnchor: [17, 17], popupAnchor: [0, -16] });
  }

  holder.hidden = false;
  var map = L.map(holder, { scrollWheelZoom: false, zoomSnap: 0.5 });
  if (data.tiles.url) {
    L.tileLayer(data.tiles.url, {
      maxZoom: 19,
      attribution: escapeHtml(data.tiles.attribution || ""),
    }).addTo(map);
  }
  var layers = [];
  var districts = L.geoJSON(data.districts, {
    style: function (feature) {
      return {
        className: "sd-district",
        color: "#0d3b66",
        weight: 2,
        fillColor: feature.properties.index.color,
        fillOpacity: 0.2,
      };
    },
    onEachFeature: function (feature, layer) {
      layer.bindTooltip(feature.properties.name, { sticky: true });
    },
  }).addTo(map);
  if (data.districts.features.length) {
    layers.push(districts);
  }
  var markers = data.sites.map(function (site) {
    var marker = L.marker([site.latitude, site.longitude], {
      icon: icon(site),
      title: site.name + ", CAQI " + site.box.index.text,
      alt: site.name,
      riseOnHover: true,
    });
    marker.bindPopup(function () {
      return popup(site);
    }, { maxWidth: 280 });
    return marker;
  });
  var group = L.featureGroup(markers).addTo(map);
  if (markers.length) {
    layers.push(group);
  }
  var bounds = null;
  layers.forEach(function (layer) {
    var b = layer.getBounds();
    if (b.isValid()) {
      bounds = bounds ? bounds.extend(b) : b;
    }
  });
  if (bounds) {
    map.fitBounds(bounds, { padding: [12, 12] });
  } else {
    map.setView([0, 0], 2);
  }
  holder.setAttribute("data-ready", "true");
})();
