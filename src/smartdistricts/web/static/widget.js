/*
 * smartdistricts air widget.
 *
 * Put <div data-smartdistricts-widget="3" data-lang="pl"></div> where the box should appear
 * and load this script from the smartdistricts server. The script fetches /widget/3.json from
 * the server it was loaded from (no other requests), draws the same box as the page
 * /widget/3 and refreshes it every five minutes. Texts go in as text nodes only.
 */
(function () {
  "use strict";

  // The stylesheet of the box; the server fills it in from templates/widget.html.
  var STYLE = "@WIDGET_CSS@";
  var REFRESH_MS = 5 * 60 * 1000;
  var FAILED = {
    pl: "Nie udało się pobrać danych o powietrzu.",
    en: "Could not load the air data."
  };

  var current = document.currentScript;
  var origin = current && current.src ? current.src : document.baseURI;

  function add(parent, tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== null && text !== undefined) {
      node.appendChild(document.createTextNode(String(text)));
    }
    parent.appendChild(node);
    return node;
  }

  function labelled(parent, className, label, text) {
    var node = add(parent, "p", className, null);
    add(node, "span", "sdw-sr", label + ": ");
    node.appendChild(document.createTextNode(text));
    return node;
  }

  function surface(host) {
    var root = host.shadowRoot || (host.attachShadow ? host.attachShadow({ mode: "open" }) : host);
    while (root.firstChild) {
      root.removeChild(root.firstChild);
    }
    add(root, "style", null, STYLE);
    return root;
  }

  function draw(host, w) {
    var index = w.index;
    var box = add(surface(host), "section", "sdw sdw-" + w.state, null);
    box.setAttribute("lang", w.lang);
    box.setAttribute("aria-label", w.title + ": " + w.installation.name);

    var top = add(box, "div", "sdw-top", null);
    top.style.background = index.color;
    top.style.color = index.text_color;
    if (w.temperature) {
      labelled(top, "sdw-temp", w.temperature.label, w.temperature.text);
    }
    labelled(top, "sdw-idx", index.label, index.text);
    add(top, "p", "sdw-cap", w.title);

    var body = add(box, "div", "sdw-body", null);
    add(body, "p", "sdw-desc", index.description);
    if (index.advice) {
      add(body, "p", "sdw-adv", index.advice);
    }
    if (w.message) {
      add(body, "p", "sdw-msg", w.message);
    }
    if (w.items.length) {
      var list = add(body, "dl", "sdw-vals", null);
      w.items.forEach(function (item) {
        add(list, "dt", null, item.label);
        add(list, "dd", null, item.display);
      });
    }
    if (w.footer) {
      add(body, "p", "sdw-foot", w.footer);
    }
  }

  function failed(host, lang) {
    var box = add(surface(host), "section", "sdw sdw-error", null);
    box.setAttribute("lang", lang);
    add(add(box, "div", "sdw-body", null), "p", "sdw-msg", FAILED[lang]);
  }

  function load(host) {
    var id = host.getAttribute("data-smartdistricts-widget") || "";
    var lang = host.getAttribute("data-lang") === "en" ? "en" : "pl";
    if (!/^[0-9]+$/.test(id)) {
      failed(host, lang);
      return;
    }
    var url = new URL("/widget/" + id + ".json?lang=" + lang, origin);
    fetch(url.href, { credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (w) {
        draw(host, w);
      })
      .catch(function () {
        failed(host, lang);
      });
  }

  function start() {
    var hosts = document.querySelectorAll("[data-smartdistricts-widget]");
    Array.prototype.forEach.call(hosts, load);
    setTimeout(start, REFRESH_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
