"""Demo news: five articles about the town's smart districts programme, in Polish and English.

The texts were written for this project; each article gets an illustration drawn here with
Pillow when the demo is created (no third-party images), which then goes through the same upload
path as an editor's photo (``services/demo_news.py``). The English version of an article uses
the Polish slug, so the portal's language switch finds it.

The programme, its districts and its figures are the demo town's (see ``demo/town.json``); the
articles describe how the platform works, not real events.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw

__all__ = ["AUTHOR", "CREDIT", "DEMO_ARTICLES", "DemoArticle", "illustration"]

W, H = 1200, 675
CREDIT = {
    "pl": "Zespół Inteligentnych Dzielnic (ilustracja komputerowa)",
    "en": "Smart Districts team (computer illustration)",
}
AUTHOR = {"pl": "Redakcja", "en": "Editors"}
Draw = Callable[[ImageDraw.ImageDraw], None]


@dataclass(frozen=True, slots=True)
class DemoArticle:
    slug: str
    tags: tuple[str, str]  #: Polish, English (comma-separated)
    days_ago: float
    draw: Draw
    pl: tuple[str, str, str, str]  #: title, lead, body (Markdown), photo description
    en: tuple[str, str, str, str]


# -- illustrations -----------------------------------------------------------------------------
def _sky(d: ImageDraw.ImageDraw, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> None:
    for y in range(H):
        t = y / H
        colour = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        d.line([(0, y), (W, y)], fill=colour)


def _houses(d: ImageDraw.ImageDraw, base: int, *, chimneys: bool = False) -> None:
    colours = [(214, 196, 170), (190, 160, 140), (230, 220, 200), (170, 180, 190)]
    for i, x in enumerate(range(40, W, 190)):
        h = 150 + (i * 37) % 90
        d.rectangle([x, base - h, x + 150, base], fill=colours[i % 4], outline=(90, 80, 70))
        d.polygon([(x - 10, base - h), (x + 75, base - h - 70), (x + 160, base - h)],
                  fill=(150, 70, 60))  # fmt: skip
        for wx in (x + 20, x + 90):
            d.rectangle([wx, base - h + 30, wx + 40, base - h + 75], fill=(250, 240, 190))
        if chimneys:
            d.rectangle([x + 110, base - h - 60, x + 130, base - h - 10], fill=(110, 60, 50))
            for k in range(5):
                r = 14 + 9 * k
                cx, cy = x + 120 + 18 * k, base - h - 80 - 30 * k
                d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(120 + 12 * k,) * 3)
    d.rectangle([0, base, W, H], fill=(96, 150, 80))


def _sensor(d: ImageDraw.ImageDraw, x: int, y: int, scale: float = 1.0) -> None:
    s = scale
    d.rectangle([x, y, x + 90 * s, y + 70 * s], fill=(245, 245, 245), outline=(60, 60, 60), width=3)
    d.rectangle([x + 15 * s, y + 50 * s, x + 75 * s, y + 62 * s], fill=(40, 160, 70))
    for r in (40, 70, 100):
        d.arc([x + 45 * s - r * s, y - r * s, x + 45 * s + r * s, y + r * s], 220, 320,
              fill=(30, 90, 160), width=4)  # fmt: skip


def draw_sensors(d: ImageDraw.ImageDraw) -> None:
    _sky(d, (120, 180, 235), (220, 240, 250))
    _houses(d, 560)
    d.rectangle([880, 180, 896, 560], fill=(80, 80, 90))
    d.line([(888, 180), (980, 160)], fill=(80, 80, 90), width=10)
    _sensor(d, 780, 260)


def draw_air_box(d: ImageDraw.ImageDraw) -> None:
    _sky(d, (235, 240, 245), (250, 250, 252))
    d.rounded_rectangle([200, 90, 1000, 585], radius=30, fill=(255, 255, 255),
                        outline=(40, 60, 90), width=4)  # fmt: skip
    levels = [(80, 185, 90), (160, 205, 80), (245, 200, 50), (240, 130, 40), (210, 50, 50)]
    for i, colour in enumerate(levels):
        d.rectangle([250 + i * 140, 450, 370 + i * 140, 510], fill=colour)
    d.polygon([(440, 430), (470, 430), (455, 448)], fill=(30, 30, 30))
    d.ellipse([260, 140, 440, 320], fill=levels[1])
    for row, width in enumerate((420, 330, 380)):
        d.rounded_rectangle([480, 160 + row * 55, 480 + width, 190 + row * 55], radius=12,
                            fill=(200, 210, 225))  # fmt: skip


def draw_join(d: ImageDraw.ImageDraw) -> None:
    _sky(d, (110, 160, 220), (200, 225, 245))
    d.rectangle([250, 120, 950, 675], fill=(225, 215, 200), outline=(120, 110, 100), width=4)
    d.rectangle([420, 200, 780, 470], fill=(170, 210, 240), outline=(90, 90, 90), width=6)
    d.rectangle([300, 470, 900, 490], fill=(120, 120, 130))
    for x in range(310, 900, 40):
        d.rectangle([x, 490, x + 8, 600], fill=(120, 120, 130))
    d.rectangle([300, 600, 900, 615], fill=(120, 120, 130))
    _sensor(d, 690, 370, 0.9)
    d.line([(735, 433), (735, 520), (820, 520)], fill=(30, 30, 30), width=5)


def draw_walking(d: ImageDraw.ImageDraw) -> None:
    d.rectangle([0, 0, W, H], fill=(245, 243, 236))
    for x in range(0, W, 120):
        d.line([(x, 0), (x + 60, H)], fill=(215, 210, 200), width=14)
    for y in range(40, H, 110):
        d.line([(0, y), (W, y - 30)], fill=(215, 210, 200), width=14)
    cx, cy = 600, 340
    for r, colour in ((300, (200, 230, 205)), (200, (170, 215, 180)), (100, (130, 195, 150))):
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    d.ellipse([cx - 18, cy - 18, cx + 18, cy + 18], fill=(30, 90, 160))
    for angle, colour in ((30, (210, 60, 60)), (150, (240, 170, 40)), (260, (120, 60, 160))):
        px = cx + int(230 * math.cos(math.radians(angle)))
        py = cy + int(230 * math.sin(math.radians(angle)))
        d.rectangle([px - 22, py - 22, px + 22, py + 22], fill=colour, outline=(40, 40, 40))


def draw_heating(d: ImageDraw.ImageDraw) -> None:
    _sky(d, (170, 170, 180), (225, 222, 215))
    _houses(d, 600, chimneys=True)
    points = [(60 + i * 90, 250 - int(90 * math.sin(i / 2.2)) - 8 * (i % 3)) for i in range(13)]
    d.line(points, fill=(200, 40, 40), width=6)
    d.line([(40, 220), (1160, 220)], fill=(60, 60, 60), width=2)


# -- texts -------------------------------------------------------------------------------------
DEMO_ARTICLES: tuple[DemoArticle, ...] = (
    DemoArticle(
        slug="czujniki-powietrza-w-dzielnicach",
        tags=("czujniki, program", "sensors, programme"),
        days_ago=1.2,
        draw=draw_sensors,
        pl=(
            "Czujniki jakości powietrza działają już w czterech dzielnicach",
            "W ramach programu Inteligentne Dzielnice na latarniach i budynkach miejskich"
            " zawisły czujniki pyłu zawieszonego PM2,5 i PM10. Wyniki widać na portalu co"
            " kilka minut.",
            "Czujniki pracują przy **ul. Małopolskiej 11** (Północ), **ul. Sosnkowskiego 1**"
            " (Serbinów), **ul. Wyszyńskiego 56** (Centrum) i **ul. Przemysłowej 7**"
            " (Przemysłowa). Każdy z nich mierzy stężenie pyłu PM2,5 i PM10, a także"
            " temperaturę, wilgotność i ciśnienie powietrza.\n\n"
            "## Skąd biorą się dane\n\n"
            "Urządzenie wysyła pomiar mniej więcej co dwie i pół minuty. Serwer miasta"
            " sprawdza każdą wartość, odrzuca odczyty niemożliwe i oznacza te zebrane przy"
            " bardzo dużej wilgotności, gdy czujnik optyczny zawyża wynik. Na stronie"
            " pokazujemy średnią z ostatniej godziny.\n\n"
            "## Gdzie zobaczyć wyniki\n\n"
            "- na [mapie czujników](/mapa), gdzie kolor znacznika odpowiada indeksowi,\n"
            "- na stronie każdej [dzielnicy](/dzielnice), z wykresami z doby, tygodnia i"
            " miesiąca,\n"
            "- w ramce z jakością powietrza na stronie głównej.\n\n"
            "Dzielnica Wschód czeka jeszcze na swój czujnik — szukamy dla niego miejsca.",
            "Rysunek: biała skrzynka czujnika na latarni przy ulicy z domami",
        ),
        en=(
            "Air quality sensors now running in four districts",
            "As part of the Smart Districts programme, particulate matter sensors (PM2.5 and"
            " PM10) have been mounted on street lamps and town buildings. Their readings reach"
            " the portal every few minutes.",
            "The sensors are at **ul. Małopolska 11** (Północ), **ul. Sosnkowskiego 1**"
            " (Serbinów), **ul. Wyszyńskiego 56** (Centrum) and **ul. Przemysłowa 7**"
            " (Przemysłowa). Each measures PM2.5 and PM10 as well as air temperature,"
            " humidity and pressure.\n\n"
            "## Where the data comes from\n\n"
            "A device sends a reading about every two and a half minutes. The town's server"
            " checks every value, rejects impossible ones and flags those taken in very humid"
            " air, when an optical sensor reads too high. The pages show the mean of the last"
            " hour.\n\n"
            "## Where to see the results\n\n"
            "- on the [sensor map](/en/map), where each marker's colour is the index,\n"
            "- on each [district's page](/en/districts), with charts for a day, a week and a"
            " month,\n"
            "- in the air quality box on the home page.\n\n"
            "The Wschód district is still waiting for its sensor; we are looking for a site.",
            "Drawing: a white sensor box on a street lamp in a street of houses",
        ),
    ),
    DemoArticle(
        slug="jak-czytac-ramke-jakosci-powietrza",
        tags=("indeks, poradnik", "index, guide"),
        days_ago=3.5,
        draw=draw_air_box,
        pl=(
            "Jak czytać ramkę z jakością powietrza",
            "Kolorowe koło, liczby i procenty normy: wyjaśniamy, co oznacza każdy element"
            " ramki, którą widać na stronie głównej i na stronach szkół.",
            "**Kolor i opis** to poziom indeksu jakości powietrza — od bardzo dobrego"
            " (zielony) do bardzo złego (czerwony). Indeks liczymy z wyników z ostatniej"
            " godziny.\n\n"
            "**PM2,5 i PM10** to stężenia pyłu w mikrogramach na metr sześcienny (µg/m³)."
            " Obok podajemy, jaki to procent dobowej normy — 100% oznacza, że stężenie"
            " równa się normie.\n\n"
            "**Temperatura, wilgotność i ciśnienie** pochodzą z tego samego urządzenia."
            " Przy wilgotności powyżej 70% wynik pyłu może być zawyżony; zaznaczamy to.\n\n"
            "**Data i godzina** mówią, kiedy przyszedł ostatni pomiar. Jeśli są sprzed"
            " ponad godziny, czujnik mógł stracić połączenie.\n\n"
            "> Wskazówka: gdy ramka jest pomarańczowa lub czerwona, przewietrz mieszkanie"
            " krótko i ogranicz wysiłek na zewnątrz.",
            "Rysunek: ramka z zielonym kołem, paskami wartości i skalą pięciu kolorów",
        ),
        en=(
            "How to read the air quality box",
            "A coloured disc, numbers and a percentage of the standard: what each part of the"
            " box on the home page and on school websites means.",
            "**The colour and its label** are the air quality index level, from very good"
            " (green) to very bad (red). The index is computed from the last hour's"
            " readings.\n\n"
            "**PM2.5 and PM10** are particulate concentrations in micrograms per cubic metre"
            " (µg/m³). Next to them is the percentage of the daily standard: 100% means the"
            " concentration equals the standard.\n\n"
            "**Temperature, humidity and pressure** come from the same device. Above 70%"
            " humidity the particulate reading may be too high; we mark it.\n\n"
            "**The date and time** tell when the last reading arrived. If it is more than an"
            " hour old, the sensor may have lost its connection.\n\n"
            "> Tip: when the box is orange or red, air your flat briefly and avoid strenuous"
            " exercise outdoors.",
            "Drawing: a box with a green disc, value bars and a five-colour scale",
        ),
    ),
    DemoArticle(
        slug="dolacz-do-programu-czujnik-na-balkonie",
        tags=("program, mieszkańcy", "programme, residents"),
        days_ago=6.0,
        draw=draw_join,
        pl=(
            "Dołącz do programu: czujnik na Twoim balkonie",
            "Mieszkańcy, szkoły i firmy mogą zgłosić miejsce na kolejny czujnik. Wystarczy"
            " gniazdko, Wi-Fi i osłonięte miejsce na zewnątrz.",
            "Program Inteligentne Dzielnice jest otwarty. Szukamy miejsc zwłaszcza w"
            " dzielnicy **Wschód** i przy szkołach.\n\n"
            "## Czego potrzeba\n\n"
            "1. Miejsca na zewnątrz, 1,5–3 m nad ziemią, z dala od komina i grilla.\n"
            "2. Gniazdka elektrycznego (czujnik pobiera mniej prądu niż ładowarka telefonu).\n"
            "3. Sieci Wi-Fi sięgającej na balkon lub ścianę.\n\n"
            "## Jak to działa\n\n"
            "Po zgłoszeniu dostaniesz czujnik zgodny z otwartym projektem airrohr."
            " Urządzenie łączy się z serwerem miasta i trafia najpierw do *kwarantanny*:"
            " przez kilka dni porównujemy jego wyniki z sąsiednimi czujnikami. Potem pojawia"
            " się na [mapie](/mapa).\n\n"
            "Nie zbieramy żadnych danych osobowych — na mapie widać tylko przybliżone"
            " położenie czujnika.",
            "Rysunek: czujnik przymocowany do balustrady balkonu, podłączony do gniazdka",
        ),
        en=(
            "Join the programme: a sensor on your balcony",
            "Residents, schools and businesses can offer a place for the next sensor. All it"
            " takes is a socket, Wi-Fi and a sheltered spot outdoors.",
            "The Smart Districts programme is open. We are looking for sites especially in"
            " the **Wschód** district and near schools.\n\n"
            "## What you need\n\n"
            "1. A place outdoors, 1.5–3 m above the ground, away from chimneys and"
            " barbecues.\n"
            "2. A power socket (the sensor uses less power than a phone charger).\n"
            "3. Wi-Fi that reaches the balcony or wall.\n\n"
            "## How it works\n\n"
            "After you apply you receive a sensor built on the open airrohr design. It"
            " connects to the town's server and starts in *quarantine*: for a few days we"
            " compare its readings with neighbouring sensors. Then it appears on the"
            " [map](/en/map).\n\n"
            "We collect no personal data; the map shows only the sensor's approximate"
            " location.",
            "Drawing: a sensor fixed to a balcony railing, plugged into a socket",
        ),
    ),
    DemoArticle(
        slug="audyt-dostepnosci-pieszej-dzielnic",
        tags=("dzielnice, audyt", "districts, audit"),
        days_ago=9.0,
        draw=draw_walking,
        pl=(
            "Audyt dostępności pieszej: jak daleko do szkoły, przychodni i przystanku",
            "Sprawdziliśmy, ile minut piechotą dzieli mieszkańców każdej dzielnicy od"
            " codziennych celów. Wyniki pomogą zaplanować chodniki i przejścia.",
            "Audyt objął pięć dzielnic programu. Dla każdego kwartału policzyliśmy czas"
            " dojścia do najbliższej **szkoły podstawowej**, **przychodni** i **przystanku**"
            " — po istniejących chodnikach, a nie w linii prostej.\n\n"
            "## Co wyszło\n\n"
            "- W **Centrum** niemal wszystko jest w zasięgu 10 minut spaceru.\n"
            "- Na **Serbinowie** i na **Północy** najdalej jest do przychodni.\n"
            "- W dzielnicy **Przemysłowej** brakuje przejść przez tory i bezpiecznych"
            " chodników wzdłuż głównych ulic.\n\n"
            "## Co dalej\n\n"
            "Wyniki trafią do rad dzielnic wraz z listą miejsc, w których nowe przejście"
            " lub kawałek chodnika skróci drogę najbardziej. Uwagi można zgłaszać w urzędzie"
            " miasta.",
            "Rysunek: plan ulic z kręgami 5, 10 i 15 minut spaceru wokół punktu",
        ),
        en=(
            "Walking access audit: how far to a school, a clinic and a bus stop",
            "We checked how many minutes on foot separate the residents of each district"
            " from everyday destinations. The results will help plan pavements and"
            " crossings.",
            "The audit covered the programme's five districts. For each block we computed"
            " the walking time to the nearest **primary school**, **clinic** and **bus"
            " stop**, along existing pavements rather than in a straight line.\n\n"
            "## Findings\n\n"
            "- In **Centrum** almost everything is within a 10-minute walk.\n"
            "- In **Serbinów** and **Północ** the clinic is the farthest.\n"
            "- The **Przemysłowa** district lacks railway crossings and safe pavements along"
            " its main streets.\n\n"
            "## Next steps\n\n"
            "The results go to the district councils with a list of places where a new"
            " crossing or stretch of pavement would shorten the way the most. Comments are"
            " welcome at the town hall.",
            "Drawing: a street plan with 5, 10 and 15-minute walking rings around a point",
        ),
    ),
    DemoArticle(
        slug="sezon-grzewczy-pierwsze-tygodnie-pomiarow",
        tags=("smog, czujniki", "smog, sensors"),
        days_ago=13.0,
        draw=draw_heating,
        pl=(
            "Sezon grzewczy: co pokazały pierwsze tygodnie pomiarów",
            "Wieczorami stężenie pyłu rośnie we wszystkich dzielnicach. Najwyższe wartości"
            " widać przy bezwietrznej, mroźnej pogodzie.",
            "Czujniki programu pokazują wyraźny rytm dnia: najczyściej jest wczesnym"
            " popołudniem, a najgorzej między **18:00 a 23:00**, gdy w domach rozpalane są"
            " piece. Przy słabym wietrze pył zalega nad miastem do rana.\n\n"
            "## Co możesz zrobić\n\n"
            "- Nie pal odpadów ani mokrego drewna — to zakazane i najbardziej szkodliwe.\n"
            "- Sprawdź, czy Twój kocioł spełnia wymagania uchwały antysmogowej.\n"
            "- Zapytaj w urzędzie o dofinansowanie wymiany pieca.\n\n"
            "Dzienne wyniki każdej dzielnicy i liczba dni z przekroczeniem normy są na"
            " stronach [dzielnic](/dzielnice).",
            "Rysunek: domy z dymiącymi kominami i czerwona linia wykresu",
        ),
        en=(
            "Heating season: what the first weeks of measurements show",
            "In the evenings particulate levels rise in every district. The highest values"
            " come with calm, frosty weather.",
            "The programme's sensors show a clear daily rhythm: the air is cleanest in the"
            " early afternoon and worst between **18:00 and 23:00**, when stoves are lit."
            " With little wind the dust stays over the town until morning.\n\n"
            "## What you can do\n\n"
            "- Never burn waste or wet wood: it is forbidden and the most harmful.\n"
            "- Check that your boiler meets the regional anti-smog rules.\n"
            "- Ask the town hall about grants for replacing an old stove.\n\n"
            "Each district's daily results and the number of days over the standard are on"
            " the [district pages](/en/districts).",
            "Drawing: houses with smoking chimneys and a red chart line",
        ),
    ),
)


def illustration(article: DemoArticle) -> bytes:
    """The article's drawing as PNG bytes."""
    image = Image.new("RGB", (W, H), (255, 255, 255))
    article.draw(ImageDraw.Draw(image))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
