"""Typed infobox values: entity links, dates, numbers, quantities with units, strings.

An infobox parameter value is first split into list items (``<br>``, bullets,
``{{plainlist}}``, ``{{flatlist}}``, ``{{ubl}}``...), then each item is typed in order of
confidence: date templates, ``{{convert}}``/``{{height}}``, wikilinks, plain dates,
numbers (with scale words and units), and finally a cleaned, language-tagged string.
A value that still contains template or link debris after cleaning is never emitted.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal, InvalidOperation

import mwparserfromhell
from mwparserfromhell.nodes import ExternalLink, Tag, Template, Text, Wikilink
from mwparserfromhell.wikicode import Wikicode

from extraction.records import Value
from extraction.titles import NS_FILE, TitleNormalizer
from extraction.wikitext import strip_noise

MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
# Other languages' month names (dates in their templates, texts and date-page links)
for _names in ("janvier février mars avril mai juin juillet août septembre octobre novembre "
               "décembre", "januar februar märz april mai juni juli august september oktober "
               "november dezember", "enero febrero marzo abril mayo junio julio agosto "
               "septiembre octubre noviembre diciembre", "gennaio febbraio marzo aprile maggio "
               "giugno luglio agosto settembre ottobre novembre dicembre", "janeiro fevereiro "
               "março abril maio junho julho agosto setembro outubro novembro dezembro",
               "januari februari maart april mei juni juli augustus september oktober "
               "november december",
               # ru and uk: after a day the genitive (`31 декабря 2018`), alone the nominative
               "января февраля марта апреля мая июня июля августа сентября октября ноября "
               "декабря", "январь февраль март апрель май июнь июль август сентябрь октябрь "
               "ноябрь декабрь", "січня лютого березня квітня травня червня липня серпня "
               "вересня жовтня листопада грудня", "січень лютий березень квітень травень "
               "червень липень серпень вересень жовтень листопад грудень",
               # no/nb/nn and da, after a day and its dot (`31. desember 2017`, `1. maj 2017`)
               "januar februar mars april mai juni juli august september oktober november "
               "desember", "januar februar marts april maj juni juli august september oktober "
               "november december"):
    for _number, _name in enumerate(_names.split(), 1):
        MONTHS.setdefault(_name, _number)

_DATE_TEMPLATES = {
    "birth date", "birth date and age", "death date", "death date and age", "start date",
    "end date", "dts", "start date and age", "end date and age", "birth-date", "death-date",
    "film date", "release date", "date", "bda", "dob", "start and end dates", "birth year and age",
    "death year and age", "birth based on age as of date",
    # other languages' (day, month, year or year, month, day: told apart by the numbers)
    "date de naissance", "date de décès", "date-", "date de création", "date de sortie",
    "datum", "geburtsdatum", "sterbedatum", "fecha", "fecha de nacimiento",
    "fecha de fallecimiento", "fecha de muerte", "data de nascimento", "data de falecimento",
    "data de morte", "data di nascita", "data di morte", "data",
}
_LIST_TEMPLATES = {"plainlist", "plain list", "flatlist", "flat list", "ubl", "unbulleted list",
                   "hlist", "bulleted list", "bull list", "ublist", "unbullet", "collapsible list",
                   "nowrap list", "startplainlist", "endplainlist", "ordered list", "vunblist"}
# Lists whose items are not each positional argument: {{taxon list}} alternates a taxon and
# its authority (which qualifies it, as a name's years do), and the English release
# templates of {{Infobox animanga}} name one company per region code (`NA = [[Viz Media]]`)
_TAXON_LISTS = {"taxon list"}
_REGION_LISTS = {"english manga publisher", "english anime licensee", "english anime network"}
_REGION_CODE = re.compile(r"^[A-Z]{2,4}\d?$")
_NOTE_TEMPLATES = {"small", "efn", "refn", "sfn", "citation needed", "cn", "nbsp", "ref label",
                   "increase", "decrease", "steady", "flagicon", "flag icon", "flagdeco"}
# Layout wrappers whose content is the value: the parameter that holds it (-1: the last)
_TRANSPARENT = {"nowrap": 0, "nobr": 0, "nobreak": 0, "no wrap": 0, "avoid wrap": 0,
                "longitem": 0, "lang": 1, "resize": -1, "nobold": 0, "noitalic": 0,
                "plainlink": 0, "transl": -1, "abbr": 0, "unité": 0, "unite": 0, "nombre": 0,
                "sigfig": 0, "formatnum": 0, "big": 0, "native name": 1,
                # `{{marriage|[[Laura Huxley]]|1956|1963}}`: the spouse (the years qualify)
                "marriage": 0, "married": 0,
                # `{{start-date|July 16, 1969, 13:32:00|timezone=yes}}&nbsp;UTC` shows its
                # date as written: the text, with the time standard after it (a date alone
                # is then a date; one with a time of day text, as other date-times are kept)
                "start-date": 0, "end-date": 0}
# A wrapper's style argument, not its content (`{{longitem|padding-top:0;line-height:1.4em
# |[[Stagira]]…}}`): CSS declarations of a hyphenated or box property
_CSS = re.compile(r"^\s*(?:(?:[a-z]+-[a-z-]+|padding|margin|colou?r|background|border|width|height|"
                  r"font|float|display)\s*:[^:;|]*(?:;\s*|$))+$", re.I)
# Wrappers that set their content on a line of its own (a block): what comes before is
# another line (`384 BC {{longitem|[[Stagira]]…}}`: the date, then the place)
_BLOCK_TEMPLATES = {"longitem": "<br />"}
# Punctuation written as templates (`April 19, 1775{{snds}}September 3, 1783`)
_SYMBOL_TEMPLATES = {"ndash": "–", "snd": " – ", "snds": " – ", "spnd": " – ",
                     "spaced ndash": " – ", "mdash": "—", "spaced mdash": " — ", "sndash": " – "}
# Templates that stand for their own text: currencies (``{{US$}}73.62 billion``) and other
# languages' ordinals (``{{1er}} janvier 2019``, ``{{43e}}``)
_CURRENCY_TEMPLATES = {"us$": "US$", "usd": "US$", "€": "€", "eur": "€", "euro": "€", "£": "£",
                       "gbp": "£", "¥": "¥", "jpy": "¥", "a$": "A$", "c$": "C$", "chf": "CHF"}
_ORDINAL_TEMPLATE = re.compile(r"^\d+(?:e|er|re|ère|ème|o|a|º|ª)$")
# Fractions written as templates (`らんま {{sfrac|1|2}}`, `{{frac|3|1|4}}`): their vulgar
# fraction sign where Unicode has one, else numerator⁄denominator
_FRACTION_TEMPLATES = {"frac", "sfrac", "fraction"}
_VULGAR = {"1/2": "½", "1/3": "⅓", "2/3": "⅔", "1/4": "¼", "3/4": "¾", "1/5": "⅕", "1/6": "⅙",
           "1/8": "⅛", "3/8": "⅜", "5/8": "⅝", "7/8": "⅞"}
# A link's target and text written with {{!}} for a template that links them (ru {{НП}}'s
# `вид региона = Земли Германии{{!}}Земля`), or inside the link itself
_PIPED_PAIR = re.compile(r"^\s*(?:\[\[)?([^\[\]{}|]+)\{\{\s*!\s*\}\}([^\[\]{}|]+?)(?:\]\])?\s*$")
# Flag templates that show the country's name (fr {{drapeau}}, es {{bandera}} show an icon)
# ({{flagdeco}} shows the flag alone: an icon, like {{flagicon}}, not the country)
_FLAG_TEMPLATES = {"flag", "flagcountry", "flag country", "flagu", "flag link",
                   "drapeau2", "bandera2", "banergwlad"}
_URL_TEMPLATES = {"url", "official url", "official website", "website"}
# Ship templates link the ship's page, named prefix, name, then its hull number or year in
# parentheses (`{{USS|Yorktown|CV-10|6}}` is [[USS Yorktown (CV-10)]], `{{ship|HMS|Ajax|22}}`
# [[HMS Ajax (22)]]); the argument after the identifier only picks what the link shows
_SHIP_PREFIXES = {"uss", "usns", "uscgc", "usrc", "hms", "hmas", "hmcs", "hmnzs", "hmy", "hnlms",
                  "rms", "sms", "ss", "mv"}
# Links written as templates: an interlanguage link (``{{ill|Target|de|lt=Text}}``, fr
# ``{{Lien|Target|lang=de}}``) is a link to its first argument, shown as ``lt``/``texte``
_LINK_TEMPLATES = {"ill", "interlanguage link", "interlanguage link multi", "illm", "ill2",
                   "link-interwiki", "lien"}
# frwiki's country templates (``{{France}}``: a flag and a link to the country): the template
# is that country.  Per language, as the names are the language's
_COUNTRY_NAMES = {"fr": (
    "Afghanistan|Afrique du Sud|Albanie|Algérie|Allemagne|Andorre|Angola|Arabie saoudite|"
    "Argentine|Arménie|Australie|Autriche|Azerbaïdjan|Bahamas|Bahreïn|Bangladesh|Barbade|"
    "Belgique|Belize|Bénin|Bhoutan|Biélorussie|Birmanie|Bolivie|Bosnie-Herzégovine|Botswana|"
    "Brésil|Brunei|Bulgarie|Burkina Faso|Burundi|Cambodge|Cameroun|Canada|Cap-Vert|Chili|"
    "Chine|Chypre|Colombie|Comores|Corée du Nord|Corée du Sud|Costa Rica|Côte d'Ivoire|"
    "Croatie|Cuba|Danemark|Djibouti|Égypte|Émirats arabes unis|Équateur|Érythrée|Espagne|"
    "Estonie|Eswatini|États-Unis|Éthiopie|Fidji|Finlande|France|Gabon|Gambie|Géorgie|Ghana|"
    "Grèce|Guatemala|Guinée|Guinée-Bissau|Guinée équatoriale|Guyana|Haïti|Honduras|Hongrie|"
    "Inde|Indonésie|Irak|Iran|Irlande|Islande|Israël|Italie|Jamaïque|Japon|Jordanie|"
    "Kazakhstan|Kenya|Kirghizistan|Kosovo|Koweït|Laos|Lesotho|Lettonie|Liban|Liberia|Libye|"
    "Liechtenstein|Lituanie|Luxembourg|Macédoine du Nord|Madagascar|Malaisie|Malawi|Maldives|"
    "Mali|Malte|Maroc|Maurice|Mauritanie|Mexique|Moldavie|Monaco|Mongolie|Monténégro|"
    "Mozambique|Namibie|Népal|Nicaragua|Niger|Nigeria|Norvège|Nouvelle-Zélande|Oman|Ouganda|"
    "Ouzbékistan|Pakistan|Palestine|Panama|Paraguay|Pays-Bas|Pérou|Philippines|Pologne|"
    "Portugal|Qatar|Roumanie|Royaume-Uni|Russie|Rwanda|Salvador|Sénégal|Serbie|Singapour|"
    "Slovaquie|Slovénie|Somalie|Soudan|Sri Lanka|Suède|Suisse|Syrie|Tadjikistan|Taïwan|"
    "Tanzanie|Tchad|Tchéquie|Thaïlande|Togo|Tunisie|Turkménistan|Turquie|Ukraine|Uruguay|"
    "Vatican|Venezuela|Viêt Nam|Yémen|Zambie|Zimbabwe|Angleterre|Écosse|Pays de Galles|Québec|"
    "URSS|Yougoslavie|Tchécoslovaquie|RDA|RFA")}
_COUNTRY_TEMPLATES = {lang: {n.lower(): n for n in names.split("|")}
                      for lang, names in _COUNTRY_NAMES.items()}
# frwiki's century templates: ``{{s|XIX}}`` is "XIXe siècle", ``{{-s|V}}`` "Ve siècle av.
# J.-C.", ``{{s-|XIX}}`` "XIXe" (the word left to the text after it)
_CENTURY_TEMPLATES = {"s": " siècle", "-s": " siècle av. J.-C.", "s-": "", "-s-": ""}
_EXCHANGES = {"nyse": "NYSE", "nasdaq": "NASDAQ", "bmv": "BMV", "lse": "LSE", "tyo": "TYO",
              "tsx": "TSX", "asx": "ASX", "euronext": "Euronext", "fwb": "FWB", "sehk": "SEHK",
              "bse": "BSE", "nse": "NSE", "six": "SIX", "otc pink": "OTC Pink", "amex": "AMEX",
              "nyse american": "NYSE American", "krx": "KRX", "sgx": "SGX", "jse": "JSE"}
_DATE_KEY = re.compile(r"date|year|founded|establish|formation|formed|born|birth|death|died|"
                       r"start|end|release|publish|open|close|built|since|term|first|last|admit|"
                       r"inception|dissolv|incorporat|launch|retired|active|elected|as_of|turned_?pro|"
                       r"(?:^|_)(?:année|annee|jahr|año|anno|ano|data|datum|fecha|год|года|"
                       r"жыл|жылы)(?:_|$)|основан|құрылған|"
                       r"fondation|création|naissance|décès|geburt|nacimiento|nascita", re.I)
# Identifiers, not quantities: a leading zero or a digit group is part of the code
_CODE_KEY = re.compile(r"postal|postcode|post_code|zip|phone|telephone|fax|area_code|(?:^|_)code|"
                       r"(?:^|_)(?:iso|fips|gnis|isbn|issn|oclc|icao|iata|faa)|call_?sign|(?:^|_)id$|"
                       r"licen[cs]e_plate|plate|registration|indicatif|téléphon|телефон|vorwahl|prefijo|"
                       r"prefisso|(?:^|_)plz$", re.I)
# Files and their display settings: a file link's size or caption is not a value, nor the
# page the image links to (`Flaglink = [[Flag of Alaska|Flag]]`) or a map's caption text
# (`map_text = Location within [[European Union]] an Germany`)
_FILE_KEY = re.compile(r"(?:^|_)(?:image|logo|map|flag|seal|signature|photo|picture|"
                       r"coat_of_arms|coa|emblem|insignia|pushpin_map)(?:_?\d*|_?link|_?(?:size|width|"
                       r"upright|alt|caption|text|file|name|type))$|(?:^|_)(?:image_?size|upright|alt)$",
                       re.I)
# Keys whose value is a file, its caption or a layout setting, in any position of the key and
# in several languages (`image_shield`, `légende_drapeau`, `descr_carte`, `lien_blason`)
_LAYOUT_TOKENS = frozenset(
    "image imageloc imagen immagine imagem bild logo shield caption captions legend mapcaption "
    "légende leyenda didascalia legenda bildbeschreibung bildunterschrift drapeau blason carte "
    "escudo bandera mapa stemma bandiera mappa brasão bandeira wappen flagge karte "
    "pushpin relief lien charte embed background".split()
    # kk: `ел картасының өлшемі` (the country map's size), `ортаққордағы санаты` (Commons category)
    + "картасы картасының өлшемі өлшемi ортаққордағы".split()
    # ru {{НП}}: `герб`/`флаг` files, `описание герба` (the arms' caption), `ширина флага`,
    # `карта страны` (the country map's size)
    + "герб герба флаг флага изображение изображения карта карты".split()
    # tr {{Yerleşim bilgi kutusu}}: `raptiye_harita` (pushpin map), `raptiye_etiket_konum`
    # (its label's position), `harita_açıklaması` (the map's caption), `resim` (image)
    + "raptiye harita haritası açıklama açıklaması resim resmi altyazı".split()
    # ku: `nexşeya_cihan` (the location map), `wêne` (image)
    + "nexşe nexşeya wêne".split())
# No value, in words: placeholders (`present`, `Unknown`, `Pas de devise officielle`), a
# label of the next line (`Nominale :`), a change beside the value (`+ 0,34 %`), a note
# alone in parentheses (`([[List of IBM products|Full List]])`)
_NO_VALUE = re.compile(r"^(?:present|unknown\b.*|none|n/?a|aucune?\b.*|pas de\b.*|keine?\b.*|"
                       r"ninguno|ninguna|nessuno|nenhum)$|:$|^[+−-]\s*\d[\d.,]*\s*%$|^\([^()]*\)$", re.I)
# Layout switches: a bare yes/no turns a part of the box on or off (`Othertournaments = Yes`
# shows a heading, `medaltemplates-expand = yes` a list expanded, `nostub = yes`), in English
# (templates of every wiki take it) and the wiki's language; not under a key that asks a
# question about the subject (a journal's `openaccess = Yes`)
_SWITCH_WORDS = {"en": "yes no true false on off", "de": "ja nein", "fr": "oui non",
                 "es": "sí si no", "it": "sì si no", "pt": "sim não", "nl": "ja nee",
                 "tr": "evet hayır", "ku": "erê na belê"}
_SWITCHES = {lang: frozenset(words.split()) for lang, words in _SWITCH_WORDS.items()}
_BOOLEAN_KEY = re.compile(r"open_?access|peer_?review|extinct|free|public|listed|protected", re.I)
# A template's placeholder left in: one word that labels a kind of field (Aruba's
# `established_event1 = Date`).  Under a name or title key such a word can be a work's
# title (the song "Name"), which is kept
_PLACEHOLDER = re.compile(r"^(?:Date|Name|Image|Caption|Year|Place|Event|Title|Text|Value)$")
_NAMING_KEY = re.compile(r"name|title|nom|titre|titel|titolo|título", re.I)
# Notes to the reader, not values: a pointer elsewhere (`See: [[Abraham Lincoln and
# religion]]`, `See Text`, `voir ci-dessous`) and a line labelled as a note (`{{small|OBS:.}}
# Discharged from his command …`); matched on the wikitext, so a linked `[[See You Again]]`
# is a title
_READER_NOTE = re.compile(
    r"^\s*(?:''+)?(?:(?:see|voir|siehe|véase|vedi|zie)(?:\s+(?:also|aussi|auch|también|anche|ook))?"
    r"\s*(?::|\[\[|(?:the\s+)?(?:text|below|above|notes?|article|ci-dessous|unten|abajo)\b)"
    r"|(?:\{\{\s*small\s*\||<small>)?\s*(?:notes?|nb|n\.b\.|obs)\s*[:.])", re.I)
# Words that join links into one phrase (`[[Bundestag]] Leader of the [[CDU/CSU]]`): the
# item is then that phrase, not a list of its links
_PHRASE_WORD = re.compile(r"(?<!\w)(?:of|the|for|in|at|de|du|des|la|le|von|der|del|di|da)(?!\w)")
# A line that continues the one before it (`… Member of the [[Bundestag]]<br />for [[X]]`)
_CONTINUATION = re.compile(r"^\s*(?:for|of|in|and|with|from|to|de|du|des|pour|en|von|für)\s")
# (`footnote_a` is a note's prose, `cianame` the CIA Factbook page's code for a link,
# {{Infobox country}}'s `symbol_type` the caption of its coat of arms or emblem, a taxobox's
# `display_parents` how many parent taxa it shows, ru {{НП}}'s `вид высоты` the label of
# its height row: `высота НУМ`, {{Infobox unit}}'s `bgcolour` the box's colour: not a
# `color` or `familycolor` alone, which name the subject's colour or family; {{Infobox
# spaceflight}}'s `apsis` the word its periapsis/apoapsis labels take: `selene` gives
# periselene)
_LAYOUT_KEY = re.compile(r"^(?:ref|width|size|taille|alt|upright|area_magnitude|cianame|"
                         r"symbol_type|episode_list|volume_list|chapter_list|wikisource|wikiquote|apsis|"
                         r"display_(?:parents|children|taxa)|вид_высоты)$|_link$|"
                         r"(?:^|_)footnotes?(?:_[a-z])?$|"
                         r"(?:^|_)(?:bg|fg|background|header|title|border|box|text)_?colou?r$", re.I)
# Values that are layout: a file, an image size, a colour (`[[#0000FF]]`)
_FILE_VALUE = re.compile(r"\.(?:svg|png|jpe?g|gif|tiff?|ogg|oga|ogv|webm|mp3|wav|flac|pdf)$|^\d+\s*px$|"
                         r"^#(?:[0-9a-f]{3}){1,2}$", re.I)
# A `width` that measures the subject, not an image: a thousands separator or a length unit
# (Alaska's `Width = 3,639`; an image's is `250` or `250px`)
_MEASURED_WIDTH = re.compile(r"^\s*(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d[\d.,]*\s*(?:km|mi|miles?|"
                             r"kilomet(?:er|re)s?)|\{\{\s*(?:convert|cvt)\s*\|)", re.I)
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_PARENTHETICAL = re.compile(r"^\s*\([^()]*\)\s*$")
_SCALE = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
          "mn": 10**6, "bn": 10**9, "m": 10**6, "b": 10**9}
# Other languages' scale words (`milliards`, `Millionen`, `millones`...)
_SCALE.update({w: 10**6 for w in "millions millionen mio millones milioni milhões".split()})
_SCALE.update({w: 10**9 for w in "milliard milliards milliarde milliarden mrd miliardi".split()})
_SCALE.update({"milliers": 10**3, "bilhões": 10**9})
_SCALE.update({"tỷ": 10**9, "triệu": 10**6, "nghìn": 10**3, "ngàn": 10**3})  # vi
# Languages that write a decimal comma; French writes no dot between thousands (a dot
# there is a decimal point, as in {{formatnum:}}'s input)
DECIMAL_COMMA = frozenset("fr de es it pt nl pl ru sv da no nn fi cs sk tr ro hu uk bg hr sl sr "
                          "ca eu gl id vi el et lv lt is az be kk mg ku".split())
# Languages whose wikis write both conventions (vi `891.7` and `42,000` in one infobox): a
# comma or dot before exactly three digits could group thousands or start decimals, so such
# a number is no number (the text stays a string); `0.950` is a decimal in any language
AMBIGUOUS_GROUPS = frozenset({"vi"})
_AMBIGUOUS = re.compile(r"(?<![\d.,])[1-9]\d{0,2}[.,]\d{3}(?![\d.,])")
_LOCAL_NUMBER = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?|\d[\d.]*,\d+|\d+(?:\.\d{3})+")
UNITS = {
    "km": "km", "kilometre": "km", "kilometer": "km", "kilometres": "km", "kilometers": "km",
    "m": "m", "metre": "m", "meter": "m", "metres": "m", "meters": "m", "cm": "cm", "mm": "mm",
    "mi": "mi", "mile": "mi", "miles": "mi", "ft": "ft", "feet": "ft", "foot": "ft", "in": "in",
    "inch": "in", "inches": "in", "yd": "yd", "nmi": "nmi", "km2": "km2", "km²": "km2",
    "sq km": "km2", "square kilometres": "km2", "square kilometers": "km2", "sqkm": "km2",
    "mi2": "sqmi", "sqmi": "sqmi", "sq mi": "sqmi", "mi²": "sqmi", "square miles": "sqmi",
    "m2": "m2", "m²": "m2", "ha": "ha", "hectares": "ha", "acre": "acre", "acres": "acre",
    "kg": "kg", "kilograms": "kg", "g": "g", "t": "t", "tonnes": "t", "lb": "lb", "lbs": "lb",
    "pounds": "lb", "oz": "oz", "st": "st", "l": "L", "litres": "L", "liters": "L", "ml": "mL",
    "gal": "gal", "km/h": "km/h", "kph": "km/h", "mph": "mph", "m/s": "m/s", "°c": "Cel",
    "°f": "[degF]", "k": "K", "%": "%", "percent": "%", "per cent": "%", "au": "AU",
    "ly": "ly", "pc": "pc", "kw": "kW", "mw": "MW", "gw": "GW", "hp": "hp", "cc": "cm3",
    "people": "people", "inhabitants": "people", "years": "a", "year": "a", "days": "d",
    "hours": "h", "minutes": "min", "seconds": "s", "/km2": "/km2", "/sq mi": "/sqmi",
    "/km²": "/km2", "/mi²": "/sqmi",
    # an angle, its symbol or in words (`orbit_inclination = 12&nbsp;degrees`)
    "°": "deg", "degrees": "deg", "degree": "deg",
    "чел": "people", "человек": "people",  # ru (`6 177 535 чел`)
}
_CURRENCY = {"$": "USD", "us$": "USD", "usd": "USD", "€": "EUR", "eur": "EUR", "£": "GBP",
             "gbp": "GBP", "¥": "JPY", "a$": "AUD", "c$": "CAD", "chf": "CHF", "₹": "INR",
             "euro": "EUR", "euros": "EUR"}
_NUMBER = re.compile(
    r"^(?P<cur>US\$|A\$|C\$|\$|€|£|¥|₹|USD|EUR|GBP|CHF)?\s*"
    r"(?P<num>[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"
    r"(?:\s*(?P<scale>thousand|million|billion|trillion|mn|bn|millions|millionen|mio|millones|"
    r"milioni|milhões|milliards?|milliarden?|mrd|miliardi|milliers|bilhões|tỷ|triệu|nghìn|ngàn)"
    r"\b\.?)?"
    r"(?:\s*(?:de\s+|d['’]\s*)?(?P<cur_after>US\$|\$|€|£|¥|₹|USD|EUR|GBP|CHF|euros?)(?!\w))?"
    r"(?:\s*(?P<symbol>%|°[CF]|°|/km2|/km²|/sq\s?mi)|\s+(?!as of\s)(?P<unit>[^\d\s(][^()]{0,24}?))?"
    r"\s*(?P<note>\([^()]*\)|as of\s.*)?\s*$", re.I)
# An estimate's word before an amount (`est. 4.784 billion USD`): the amount, with its unit
# or currency (a bare `c. 1450` stays text: a year or a count, the estimate unsaid)
_ESTIMATE = re.compile(r"^\s*(?:estimated|est\.?|approximately|approx\.?|circa|ca\.|c\.|~)\s*(?=\S)",
                       re.I)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
_DMY = re.compile(r"^(\d{1,2})(?:er|\.|º)?\s+(?:de\s+)?([^\W\d_]+)\.?,?\s+(?:de\s+)?(\d{3,4})$")
_MDY = re.compile(r"^([^\W\d_]+)\.?\s+(\d{1,2}),?\s+(\d{3,4})$")
_MY = re.compile(r"^([^\W\d_]+)\.?,?\s+(?:de\s+)?(\d{3,4})$")
_YEAR = re.compile(r"^(\d{3,4})$")
# A date in digits with dots, day first (tr `31.12.2018`, de, ru): never a number in any
# language (thousands come in groups of three)
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
# Words that say a number is a year (`1170 жыл`), per language
_YEAR_WORDS = {"kk": ("жыл", "жылы", "ж."), "ru": ("год", "года", "г."), "uk": ("рік", "року", "р."),
               "be": ("год", "года", "г."), "ky": ("жыл", "жылы", "ж."), "uz": ("yil", "yili", "y.")}
_YEAR_WITH_WORD = {lang: re.compile(r"^(\d{3,4})\s*(?:%s)$" % "|".join(map(re.escape, words)), re.I)
                   for lang, words in _YEAR_WORDS.items()}
_VI_DATE = re.compile(r"^(?:(\d{1,2})\s+)?tháng\s+(\d{1,2}),?\s+năm\s+(\d{3,4})$", re.I)
_TRAILING_NOTE = re.compile(r"\s*\((?:aged?|age)\s+\d+[^()]*\)\s*$|\s*\([^()]*\)\s*$")
_DEBRIS = ("{{", "}}", "[[", "]]", "|")
_BULLET = re.compile(r"(?:^|\n)\s*[*#]")
# (a blank line is a paragraph break: `171,000 Sailors` + blank line + `Loyalist forces:`)
# (a bold label starts a group: `'''France:''' 10,000 … '''Spain:''' 5,000 killed`)
_BOLD_LABEL = "'''[^'\n]{1,40}:'''"
# A line break, also as the parser leaves it in text (`<br/ >`, `< br />`: spaces where none
# belong)
_BR = r"<\s*br\s*/?\s*>"
# A link between colons labels the value after it (nds `LIGGT_IN = :[[Bundsland
# (Düütschland)|Bundsland]]: Berlin :[[Landkreis]]: [[Kreisfree Stadt]]`): the label is no
# value, and each value is an item
_LINK_LABEL = r"(?:^|(?<=\s)):\[\[[^\[\]\n]+\]\]:\s*"
_ITEM_SPLIT = re.compile(_BR + r"|\x1e|\n\s*[*#]+\s*|^\s*[*#]+\s*|\n[ \t]*\n\s*|"
                         r"(?<=\S)\s*(?=" + _BOLD_LABEL + ")|" + _LINK_LABEL, re.I)
# A line that ends in a joining word goes on in the next (`… independence of the <br />[[X]]`)
_DANGLING = re.compile(r"(?<!\w)(?:of|the|and|for|to|in|from|by|with|at|de|du|des|la|le|von|der|"
                       r"und|et)$")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_BR_TEXT = re.compile(_BR, re.I)


def _template_name(template: Template) -> str:
    name = str(template.name).replace("_", " ")
    name = re.sub(r"<!--.*?-->", "", name, flags=re.S)
    name = " ".join(name.split()).lower()
    return name[len("template:"):].strip() if name.startswith("template:") else name


def _positional(template: Template) -> list[str]:
    """Positional arguments, ``|1=…`` written out included (``{{Collapsible list|1=…}}``)."""
    return [str(p.value).strip() for p in template.params
            if not p.showkey or str(p.name).strip().isdigit()]


def unwrap(code: Wikicode, lang: str = "en") -> Wikicode:
    """Layout templates replaced by their content (``{{nowrap|{{death date and age|…}}}}``
    is the date), nested ones and those inside formatting too (``''{{lang|de|Land}}''``);
    templates that stand for their text (``{{US$}}``, ``{{1er}}``, ``{{formatnum:5}}``)
    replaced by it; a target and text joined by ``{{!}}`` made the link they stand for."""
    pair = _PIPED_PAIR.match(str(code)) if "{{" in str(code) else None
    if pair:
        return mwparserfromhell.parse(f"[[{pair[1].strip()}|{pair[2].strip()}]]")
    for _ in range(4):  # a wrapper's content may be another wrapper
        changed = False
        if not any(isinstance(node, (Template, Tag)) for node in code.nodes):
            return code  # the common case: nothing to unwrap
        for template in code.filter_templates(recursive=True):
            text = _template_text(template, lang)
            if text is not None:
                try:
                    code.replace(template, text)
                except ValueError:  # inside a template replaced in this round
                    continue
                changed = True
        if not changed:
            return code
        code = mwparserfromhell.parse(str(code))
    return code


def _template_text(template: Template, lang: str) -> str | None:
    """The wikitext a transparent template stands for, or None for any other template:
    a wrapper's content, a currency's or an ordinal's text, a link (``{{ill}}``, a country
    template), a century."""
    name = _template_name(template)
    if name in _LINK_TEMPLATES:
        return _link_text(template)
    if name in _SHIP_PREFIXES or name == "ship":
        return _ship_link(name, _positional(template))
    if name in _COUNTRY_TEMPLATES.get(lang, ()):
        return f"[[{_COUNTRY_TEMPLATES[lang][name]}]]"
    if name == "linktext":  # `{{linktext|三|星}}`: each part linked to Wiktionary, one word
        return "".join(_positional(template))
    if lang == "fr" and name in _CENTURY_TEMPLATES and _positional(template):
        numeral = _positional(template)[0].upper()
        return numeral + ("er" if numeral == "I" else "e") + _CENTURY_TEMPLATES[name]
    if name in _FOSSIL_RANGE_TEMPLATES and _positional(template):
        return _fossil_range(_positional(template))
    if name in _FRACTION_TEMPLATES and _positional(template):
        return _fraction(_positional(template))
    if name in _SOURCE_TEMPLATES and _positional(template):
        return _based_on(_positional(template))
    if name.startswith("formatnum:"):
        return name[len("formatnum:"):]
    if name in _SYMBOL_TEMPLATES and not template.params:
        return _SYMBOL_TEMPLATES[name]
    if name == "small" and re.match(r"\{\{\s*(?:native name|lang)\b", (_positional(template) or [""])[0],
                                    re.I):
        return _positional(template)[0]  # `{{small|{{native name|ar|…}}}}`: the name, smaller
    if name.startswith("lang-") and _positional(template):  # `{{lang-de|Berlin}}`
        return _positional(template)[0]
    if name in _CURRENCY_TEMPLATES and not _positional(template):
        return _CURRENCY_TEMPLATES[name]
    if _ORDINAL_TEMPLATE.match(name) and not template.params:
        return name
    slot = _TRANSPARENT.get(name)
    args = _positional(template)
    if name == "число" and args:  # ru `{{число|6177535|чел.}}`: the number, then its unit
        return " ".join(args[:2])
    if slot is not None and len(args) > 1:
        args = [arg for arg in args if not _CSS.match(arg)] or args
    if slot is None or len(args) <= slot:
        return None
    return _BLOCK_TEMPLATES.get(name, "") + args[slot]


# A work's source written as a template (`{{based on|''E.R.''|Josep Maria Benet i Jornet}}`):
# the work, then its authors, each an item
_SOURCE_TEMPLATES = {"based on"}
_FOSSIL_RANGE_TEMPLATES = {"fossil range", "fossilrange", "long fossil range"}


def _based_on(args: list[str]) -> str:
    """``{{based on|(stage play) ''E.R.''|Author}}`` -> the work (without its leading note on
    the medium) and its authors, one per line."""
    work = re.sub(r"^\s*\([^()]*\)\s*", "", args[0])
    return "<br />".join([work] + [a for a in args[1:] if a])


def _fraction(args: list[str]) -> str:
    """``{{sfrac|1|2}}`` -> ``½``; ``{{frac|3|1|4}}`` -> ``3¼``; ``{{frac|5|16}}`` -> ``5⁄16``."""
    whole, parts = (args[0], args[1:3]) if len(args) >= 3 else ("", args[:2])
    if len(parts) < 2:
        return whole + "1⁄" + parts[0]  # `{{frac|8}}` is one eighth
    return whole + _VULGAR.get("/".join(parts), "⁄".join(parts))


def _ship_link(name: str, args: list[str]) -> str | None:
    """``{{USS|Hornet|CV-12|6}}`` -> ``[[USS Hornet (CV-12)]]``, ``{{ship|HMS|Dreadnought|1906}}``
    -> ``[[HMS Dreadnought (1906)]]``: the ship's page (its prefix, name and identifier)."""
    if name == "ship":
        if len(args) < 2:
            return None
        name, args = args[0], args[1:]
    else:
        name = name.upper()
    parts = [a for a in args[:2] if a]
    if not parts or any(c in "".join(parts) for c in "[]{}|"):
        return None
    return f"[[{name} {parts[0]}" + (f" ({parts[1]})" if len(parts) > 1 else "") + "]]"


def _link_text(template: Template) -> str | None:
    """``{{ill|Ewald Wüst|de|lt=Wüst}}`` -> ``[[Ewald Wüst|Wüst]]``; fr ``{{Lien|fr=X|texte=Y}}``."""
    target = (_positional(template) or [None])[0]
    if template.has("fr"):
        target = str(template.get("fr").value).strip()
    if not target or any(c in target for c in "[]{}|"):
        return None
    for shown_key in ("lt", "texte", "text"):
        if template.has(shown_key) and str(template.get(shown_key).value).strip():
            return f"[[{target}|{str(template.get(shown_key).value).strip()}]]"
    return f"[[{target}]]"


def _iso(year: int, month: int | None = None, day: int | None = None) -> tuple[str, str] | None:
    if not 1 <= year <= 9999 or (month is not None and not 1 <= month <= 12):
        return None
    if month is None:
        return f"{year:04d}", "xsd:gYear"
    if day is None:
        return f"{year:04d}-{month:02d}", "xsd:gYearMonth"
    if not 1 <= day <= 31:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}", "xsd:date"


def date_from_template(template: Template) -> Value | None:
    """``{{birth date|1809|2|12}}`` -> 1809-02-12 (the first triple wins); day first when the
    first number cannot be a year and the third can (``{{Date de naissance|16|8|1958}}``,
    ``{{Datum|25|08|2017}}``, ``{{date|16|août|1958}}``)."""
    args = [a for a in _positional(template) if a]
    fields = [int(a) if re.fullmatch(r"\d{1,4}", a) else MONTHS.get(a.lower().rstrip("."))
              for a in args[:3]]
    if len(fields) == 3 and None not in fields:
        if fields[0] <= 31 and fields[2] > 31:
            fields.reverse()  # day, month, year
    elif args and re.fullmatch(r"\d{1,4}", args[0]):
        fields = [int(a) for a in args if re.fullmatch(r"\d{1,4}", a)][:3]
    else:
        text = " ".join(args)
        return parse_date(text) if text else None
    parsed = _iso(*fields)
    return Value("date", parsed[0], parsed[1]) if parsed else None


def parse_date(text: str, allow_year: bool = True, lang: str = "en") -> Value | None:
    """Plain-text dates: ISO, ``12 February 1809``, ``February 12, 1809``, ``May 1940``, years;
    a year with the language's word for year (kk ``1170 жыл``) under any key."""
    text = _TRAILING_NOTE.sub("", text.strip()).strip()
    parsed = None
    if match := _ISO_DATE.match(text):
        parsed = _iso(int(match[1]), int(match[2]), int(match[3]) if match[3] else None)
    elif (match := _DMY.match(text)) and match[2].lower() in MONTHS:
        parsed = _iso(int(match[3]), MONTHS[match[2].lower()], int(match[1]))
    elif (match := _MDY.match(text)) and match[1].lower() in MONTHS:
        parsed = _iso(int(match[3]), MONTHS[match[1].lower()], int(match[2]))
    elif (match := _MY.match(text)) and match[1].lower() in MONTHS:
        parsed = _iso(int(match[2]), MONTHS[match[1].lower()])
    elif match := _DOTTED_DATE.match(text):
        parsed = _iso(int(match[3]), int(match[2]), int(match[1]))
    elif match := _VI_DATE.match(text):  # `31 tháng 12 năm 2019`
        parsed = _iso(int(match[3]), int(match[2]), int(match[1]) if match[1] else None)
    elif allow_year and (match := _YEAR.match(text)):
        parsed = _iso(int(match[1]))
    elif lang in _YEAR_WITH_WORD and (match := _YEAR_WITH_WORD[lang].match(text)):
        parsed = _iso(int(match[1]))
    return Value("date", parsed[0], parsed[1]) if parsed else None


def _number(lexical: str, scale: str | None = None) -> tuple[str, str] | None:
    try:
        number = Decimal(lexical.replace(",", "").replace("−", "-"))
    except InvalidOperation:
        return None
    if scale:
        number *= _SCALE[scale.lower()]
    if number == number.to_integral_value():
        return str(int(number)), "xsd:integer"
    return format(number.normalize(), "f"), "xsd:decimal"


def parse_number(text: str, lang: str = "en") -> Value | None:
    """``4,858,979 (2015 est.)`` -> integer; ``3.2 million`` -> 3200000; ``5 km`` -> quantity.
    ``01208`` is no number (a leading zero belongs to a code).  In a language that writes a
    decimal comma, ``0,922`` is 0.922 and ``307,665 milliards d'€`` 307.665 billion euros."""
    if lang in AMBIGUOUS_GROUPS and _AMBIGUOUS.search(text):
        return None
    estimate = _ESTIMATE.match(text)
    if estimate:
        value = parse_number(text[estimate.end():], lang)
        return value if value is not None and value.kind == "quantity" else None
    if lang in DECIMAL_COMMA:
        text = _english_digits(text, lang)
    match = _NUMBER.match(text.strip())
    if not match or re.match(r"[-+−]?0\d", match["num"]):
        return None
    number = _number(match["num"], match["scale"])
    if number is None:
        return None
    unit = None
    written_unit = match["unit"] or match["symbol"]
    if written_unit:
        unit = UNITS.get(" ".join(written_unit.lower().rstrip(".").split()))
        if unit is None:
            return None
    if match["cur"] or match["cur_after"]:
        unit = _CURRENCY.get((match["cur"] or match["cur_after"]).lower())
    if unit:
        return Value("quantity", number[0], "xsd:decimal", unit=unit)
    return Value("integer" if number[1] == "xsd:integer" else "decimal", number[0], number[1])


def _english_digits(text: str, lang: str) -> str:
    """Digits as English writes them: ``3 748 148`` -> ``3748148``, ``0,922`` -> ``0.922``,
    ``1.234.567`` (German) -> ``1234567``."""
    def english(match: re.Match) -> str:
        number = re.sub(r"[ \u00a0\u202f]", "", match.group(0))
        if lang != "fr" and re.fullmatch(r"[1-9]\d*(?:\.\d{3})+(?:,\d+)?", number):
            number = number.replace(".", "")
        return number.replace(",", ".")
    return _LOCAL_NUMBER.sub(english, text)


def quantity_from_template(template: Template) -> Value | None:
    """``{{convert|5|km|mi}}`` -> 5 km; ``{{height|ft=5|in=11}}`` -> 1.8034 m."""
    name = _template_name(template)
    if name in ("convert", "cvt"):
        args = _positional(template)
        if len(args) >= 2:
            unit_index = 3 if len(args) >= 4 and args[1] in ("-", "to", "–") else 1
            number = _number(args[0])
            unit = UNITS.get(args[unit_index].lower(), args[unit_index]) if number else None
            if number and unit and re.fullmatch(r"[\w/%°²³.]+", unit):
                return Value("quantity", number[0], "xsd:decimal", unit=unit)
        return None
    metres = Decimal(0)
    factors = {"m": Decimal(1), "cm": Decimal("0.01"), "ft": Decimal("0.3048"),
               "in": Decimal("0.0254")}
    for param in template.params:
        key = str(param.name).strip().lower()
        if key in factors:
            try:
                metres += Decimal(str(param.value).strip()) * factors[key]
            except InvalidOperation:
                return None
    return Value("quantity", format(metres.normalize(), "f"), "xsd:decimal", unit="m") if metres else None


_LAYOUT_TAG = re.compile(r"</?\s*(?:center|div|span|font|p|big|small)\b[^<>]*>", re.I)


def clean_inline(code) -> str:
    """Plain text of a value: links to their text, templates and tags removed."""
    text = code.strip_code(normalize=True, collapse=True) if hasattr(code, "strip_code") else code
    text = _INVISIBLE.sub("", html.unescape(text))
    text = re.sub(r"\(\s*\)", "", text)  # `({{Age in years, months and days|…}})` removed
    text = _LAYOUT_TAG.sub("", text)  # an unclosed `<center>` the parser leaves as text
    return " ".join(text.split()).strip(" ,;·•")


def _is_link_label(before, after) -> bool:
    """Whether the nodes around a link put it between colons, as a label (``:[[X]]:``)."""
    return isinstance(before, Text) and isinstance(after, Text) and str(after).startswith(":") \
        and re.search(r"(?:^|\s):$", str(before)) is not None


def split_items(code: Wikicode) -> list[Wikicode]:
    """Split a parameter value into list items, expanding list templates.

    A value with no list markup (the common case) is returned as is, without a re-parse.
    A value wholly in italics or bold is split inside them (``''{{native name|ar|…}}<br>
    {{native name|ber|…}}''``: two names).
    """
    nodes = [node for node in code.nodes if not (isinstance(node, Text) and not str(node).strip())]
    if len(nodes) == 1 and isinstance(nodes[0], Tag) and nodes[0].wiki_markup in ("''", "'''") \
            and nodes[0].contents and _has_list_markup(nodes[0].contents):
        code = nodes[0].contents
    if not _has_list_markup(code):
        return [code]
    for template in code.filter_templates(recursive=False):
        listed = _list_items(template)
        if listed is not None:
            code.replace(template, "\x1e" + "\x1e".join(listed) + "\x1e")
        elif _template_name(template) in _NOTE_TEMPLATES and not _READER_NOTE.match(str(template)):
            code.remove(template)  # (a note's label stays: its line is then no value)
    items: list[str] = []
    for item in _ITEM_SPLIT.split(str(code)):
        if not item or not item.strip():
            continue
        if items and (_PARENTHETICAL.match(item) or _CONTINUATION.match(item)
                      or _DANGLING.search(items[-1])):
            items[-1] += " " + item.strip()  # `Name<br />(1994–2002)`: a qualifier
        else:
            items.append(item.strip())
    return [mwparserfromhell.parse(item) for item in items]


def _list_items(template: Template) -> list[str] | None:
    """The items of a list template (None for any other template): its positional
    arguments, a {{taxon list}}'s taxa (every other one), a release template's companies."""
    name = _template_name(template)
    if name in _LIST_TEMPLATES:
        return _positional(template)
    if name in _TAXON_LISTS:
        return _positional(template)[::2]
    if name in _REGION_LISTS:
        return [str(p.value).strip() for p in template.params
                if _REGION_CODE.match(str(p.name).strip()) and str(p.value).strip()]
    return None


def _has_list_markup(code: Wikicode) -> bool:
    last = len(code.nodes) - 1
    for i, node in enumerate(code.nodes):
        if isinstance(node, Wikilink) and 0 < i < last \
                and _is_link_label(code.nodes[i - 1], code.nodes[i + 1]):
            return True
        if isinstance(node, Template) and _list_items(node) is not None:
            return True
        if isinstance(node, Tag) and (str(node.tag).lower() == "br"
                                      or (node.wiki_markup or "") in ("*", "#")):
            return True  # (a bullet after a template, `{{flagcountry|X}}` + `* [[Y]]`, is a tag)
        if isinstance(node, Tag) and node is not code.nodes[0] and node.wiki_markup == "'''" \
                and str(node.contents).strip().endswith(":"):
            return True  # a bold label after the first group
        if isinstance(node, Text) and (_BULLET.search(str(node)) or _BR_TEXT.search(str(node))
                                       or _PARAGRAPH.search(str(node).strip())):
            return True
    return False


def parse_value(raw: str | Wikicode, key: str, titles: TitleNormalizer, lang: str,
                siblings: frozenset[str] = frozenset()) -> list[Value]:
    """All typed values of one infobox parameter (one per list item, or per link);
    ``siblings`` are the infobox's keys (:func:`sibling_keys`)."""
    if is_layout_key(key) and not _measures_width(key, raw, siblings):
        return []
    code = mwparserfromhell.parse(strip_noise(raw)) if isinstance(raw, str) else raw
    values, whole = [], None
    for item in _items(unwrap(code, lang), lang):
        labelled = _label(item)
        found = [v for part in comma_items(item, key) for v in parse_item(part, key, titles, lang)]
        if whole is None:
            whole = set() if labelled else {v.kind for v in found}
        elif labelled and whole.intersection(v.kind for v in found):
            continue  # a part's value after the whole's (`North Atlantic: {{cvt|…}}`)
        values.extend(v for v in found if v not in values)
    if _MEASURE_KEY.search(key) and any(v.kind == "quantity" for v in values):
        # `max-depth = [[Puerto Rico Trench]]<br />{{cvt|8376|m}}`: where, not how deep
        values = [v for v in values if v.kind != "entity"]
    return values


# Keys that name a measure of the subject: a quantity, never a place
_MEASURE_KEY = re.compile(r"(?:^|[_\-\s])(?:depth|height|elevation|length|area|volume|width|mass|"
                          r"weight)(?:$|[_\-\s])", re.I)
# A label before an item's value: `North Atlantic: …`, `'''Spain:''' …` (not `http://`)
_LABEL = re.compile(r"^([^\W\d_][^:\d]{0,40}):(?!//)\s*\S")
_VALUE_TEMPLATES = ("convert", "cvt", "height")
def _label_text(node) -> str:
    """A node's text for finding a label: a link's colon is part of a title (``[[Mad Max:
    Fury Road]]``), not a label's end."""
    if isinstance(node, Wikilink):
        return "link"
    if isinstance(node, Tag):  # bold or italic: `'''Spain:'''`, `''[[Mad Max: Fury Road]]''`
        return "".join(map(_label_text, node.contents.nodes)) if node.contents else ""
    return str(node) if isinstance(node, Text) else ""


_APPROXIMATE = re.compile(r"^(?:c\.|ca\.|circa|about|approx\.?|approximately|around|over|under|"
                          r"more than|less than|up to|at least|est\.?|estimated|~)$", re.I)


def _label(item: Wikicode) -> str | None:
    """The label an item's value is given under, if any: ``Label: value``, or words before a
    measure template (``South Atlantic {{cvt|…}}``).  In a parameter whose first item is the
    whole's value (an ocean's area, a war's dates), a labelled item is a part's (the North
    Atlantic's area, the date a treaty took effect), not the subject's; where every item is
    labelled (a car's wheelbase per body: ``Saloon: …``, ``Estate: …``) or a bare label comes
    first (a war's strength per side), the labels name the subject's variants or sides."""
    match = _LABEL.match("".join(_label_text(node) for node in item.nodes))
    if match:
        return match[1]
    before = []
    for node in item.nodes:
        if isinstance(node, Template) and _template_name(node) in _VALUE_TEMPLATES:
            words = clean_inline("".join(before))
            labelled = re.search(r"[^\W\d_]{3}", words) and not _APPROXIMATE.match(words)
            return words if labelled else None
        before.append(str(node) if isinstance(node, Text) else "")
    return None


# A comma followed by a space, outside parentheses, separates list items; `1,234` has none
_COMMA = re.compile(r",\s+")
# A part that is clearly a list item: one link (with its plural `s`, italics or a note in
# parentheses) or a short phrase of words that starts with a letter (not `May 1`/`2001`)
_LINK_PART = re.compile(r"^'*\[\[[^\[\]{}]+\]\]\w*'*(?:\s*\([^()]*\))?$")
_WORDS_PART = re.compile(r"^[^\W\d_][\w'’&.\- ]*(?:\s*\([^()]*\))?$")
_MAX_WORDS = 4
# Keys whose commas are no list: a place written from the small to the large
# (`Hot Springs, Arkansas, United States`) and names (`Doe, Jane`)
_ONE_VALUE_KEY = re.compile(r"name|place|location|city|town|residence|headquarters|(?:^|_)hq|"
                            r"address|seat|capital|venue|ground|origin|lieu|siège|sitz|(?:^|_)ort|"
                            r"lugar|luogo|nom", re.I)


# Keys whose items are institutions, which a place after a comma locates (`work_institutions
# = [[IHÉS]], France`), and words that name an institution rather than a place
_INSTITUTION_KEY = re.compile(r"institution|alma_mater|education|employer|workplace|"
                              r"affiliation|school|college|university|(?:^|_)club", re.I)
_INSTITUTION_WORD = re.compile(r"universit|college|school|institut|academ|école|ecole|hochschule|"
                               r"laborator|centre|center|hospital|society|museum|company", re.I)
_PLACE_PART = re.compile(r"^[A-Z][\w'’.\-]*(?:\s+[A-Z][\w'’.\-]*){0,2}$")


def comma_items(item: Wikicode, key: str) -> list[Wikicode]:
    """An item written as a comma list (``rock, pop, jazz``, ``Grocery, [[general
    merchandise]], [[financial services]]``) split into its items, when every part is
    clearly one: a link or a short phrase.  Not numbers (``1,234``), dates (``May 1,
    2001``), prose (``University of California, Berkeley``: a joining word), places, or
    under a date key (``founded = … [[Endicott, New York]], U.S.``: a date and a place).
    Only the Text between nodes is cut, and the parts reuse the item's other nodes: no
    re-parse."""
    if _ONE_VALUE_KEY.search(key) or _DATE_KEY.search(key) or not any(
            isinstance(node, Text) and "," in str(node) for node in item.nodes):
        return [item]
    parts, depth = [[]], 0
    for node in item.nodes:
        if not isinstance(node, Text):
            parts[-1].append(node)
            continue
        for piece in re.split(r"([()]|,\s+)", str(node)):
            depth = max(0, depth + (piece == "(") - (piece == ")"))
            if depth == 0 and _COMMA.fullmatch(piece):
                parts.append([])
            elif piece:
                parts[-1].append(Text(piece))
    if len(parts) < 2 or not all(_is_list_part("".join(map(str, part)).strip()) for part in parts):
        return [item]
    if _INSTITUTION_KEY.search(key):
        parts = _with_locations(parts)
    return [Wikicode(part) for part in parts]


def _with_locations(parts: list[list]) -> list[list]:
    """Institutions' parts with the place after each kept with it: in ``[[IHÉS]], France``
    the unlinked place after a linked institution says where it is, and is no institution
    of its own (a part that names one, ``Yale University``, stays an item)."""
    merged = [parts[0]]
    for part in parts[1:]:
        text = "".join(map(str, part)).strip()
        if any(isinstance(n, Wikilink) for n in merged[-1]) and _PLACE_PART.match(text) \
                and not _INSTITUTION_WORD.search(text):
            merged[-1] = merged[-1] + [Text(", ")] + part
        else:
            merged.append(part)
    return merged


def _is_list_part(part: str) -> bool:
    if _LINK_PART.match(part) or _is_link_in_words(part):
        return True
    words = re.sub(r"\([^()]*\)", "", part).split()
    return bool(_WORDS_PART.match(part)) and len(words) <= _MAX_WORDS \
        and not _PHRASE_WORD.search(part)


def is_layout_key(key: str) -> bool:
    """A parameter that holds a file, its size or caption, or a layout setting: none is a
    fact about the subject (the graph has no file IRIs)."""
    return bool(_FILE_KEY.search(key) or _LAYOUT_KEY.search(key)
                or _LAYOUT_TOKENS.intersection(re.split(r"[_\s]+", key.lower())))


def _measures_width(key: str, raw: str | Wikicode, siblings: frozenset[str]) -> bool:
    """Whether a ``width`` is the subject's (a state's, a bridge's), not its image's: an
    image width is a few hundred pixels, never written with a thousands separator or a
    length unit, and no infobox sizes an image by a length too or in a second unit
    ({{Infobox U.S. state}}: `Width = 305`, `WidthUS = 190`, `Length = 531`)."""
    return key.lower() == "width" and (bool(_MEASURED_WIDTH.match(str(raw))) or any(
        s == "length" or (s.startswith("width") and s != "width") for s in siblings))


def _items(code: Wikicode, lang: str, depth: int = 0) -> list[Wikicode]:
    """List items, nested lists (an ``{{hlist}}`` inside a ``{{plainlist}}``) split too."""
    items = split_items(code)
    if depth >= 3 or items == [code]:
        return items
    return [inner for item in items for inner in _items(unwrap(item, lang), lang, depth + 1)]


def parse_item(code: Wikicode, key: str, titles: TitleNormalizer, lang: str) -> list[Value]:
    if _READER_NOTE.match(str(code)):
        return []
    label = _LANGUAGE_LABEL.match(str(code))
    if label:  # `([[Catalan language|Catalan]]: '''''Actrius''''')`: the name in that language
        return _typed_text(mwparserfromhell.parse(label["value"]), key, lang)
    code = _links_as_text(code, titles)
    offset = _OFFSET_KEY.search(key) and code.filter_wikilinks() and _LEADING_OFFSET.match(str(code))
    if offset:  # `+4:30 [[Solar Hijri calendar|Solar Calendar]]`: the offset, a note after it
        return _typed_text(mwparserfromhell.parse(offset[0].strip()), key, lang)
    for node in _unqualified_templates(code):
        value = value_template(node, titles)
        if value:
            return [value]
    url = _lone_url(code) or _digits_code(code, key, lang)
    if url:
        return [url]
    links = list(_links(code))
    files = [link for link, _ in links if (titles.parse(str(link.title)) or (None,))[0] == NS_FILE]
    if files:  # a file and its size or caption: the graph has no file IRIs
        for link in files:  # (a flag icon before a name leaves the name)
            code.remove(link)
        if not clean_inline(code):
            return []
        links = list(_links(code))
    outside = _link_titles(links, titles, inside=False)
    shown = _shown_value(code, links, key, lang)
    if shown:
        return [shown]
    if outside and all(_is_date_page(title) for title in outside):
        # `[[16 août]] [[1958]]`, `[[August 16]], [[1958]]`: links to date pages make a date
        date = parse_date(clean_inline(_without_small(code)))
        if date:
            return [date]
    # (read without its templates: an icon before the value, `{{increase}} [[€]]41.3 billion`)
    bare = "".join(str(node) for node in code.nodes if not isinstance(node, Template))
    if outside and _AWARD_NAME.match(bare):
        return _typed_text(_outside_parentheses(code), key, lang)
    if outside and (_is_phrase(code) or _MEASURE.match(bare) or _AMOUNT.match(bare)
                    or _is_link_in_words(bare) or _is_count(bare, titles, lang)
                    or _is_shown_word(links, key)):
        return _typed_text(code, key, lang)
    if outside:
        return [Value("entity", title) for title in outside]
    qualifiers = _link_titles(links, titles, inside=True)
    if qualifiers:
        # `1,234,567 ([[List of largest cities|3rd]])`, `Jane Doe ([[Chairman]])`: the
        # links in parentheses qualify the text before them, which is the value; in a
        # taxon's authority they are part of it (`([[George Edward Massee|Massee]]) Vánky`:
        # the basionym's author, then the combination's)
        main = _typed_text(_outside_parentheses(code), key, lang)
        if main and _AUTHORITY_KEY.search(key):
            return _typed_text(code, key, lang)
        return main or [Value("entity", title) for title in qualifiers]
    return _typed_text(code, key, lang)


# A language's link as a label before a name (`film name = ([[Catalan language|Catalan]]:
# '''''Actrius''''')`): the name, in that language; the label's word for language per wiki
_LANGUAGE_LABEL = re.compile(r"^\s*\(?\s*\[\[[^\[\]|]*\b(?:language|langue|sprache|idioma|lingua|"
                             r"língua|dili)\b[^\[\]]*\]\]\s*:\s*(?P<value>[^\[\]{}]+?)\s*\)?\s*$", re.I)
# A link and capitalised words ending in an award's noun (`[[CNRS]] Silver Medal (1977)`): the
# award named by the whole phrase, not the linked body that gives it
_AWARD_NAME = re.compile(r"^\s*\[\[[^\[\]]+\]\](?:\s+[A-Z][\w'’.\-]*)*\s+(?:Medal|Prize|Award|"
                         r"Lecture|Fellowship|Trophy|Professorship)\b\s*(?:\([^()]*\))?\s*$")
# A number and the words of its unit, linked (`892 مربع [[کلومیٹر]]`, `892 square
# [[kilometre]]`, `5,000 [[Continental Navy]] sailors`): a measure, not the linked page
_MEASURE = re.compile(r"^\s*\d[\d.,\u00a0 ]*(?:[^\W\d_]+\s+)*\[\[[^\[\]|]+\]\][^\W\d_]*"
                      r"(?:\s+[^\W\d_]+)*\s*(?:\([^()]*\))?\s*$")
# A linked currency symbol before a number (`[[€]]41.3 billion`): an amount, not the page
_AMOUNT = re.compile(r"^\s*\[\[(?:[^\[\]|]+\|)?\s*(?:US\$|A\$|C\$|\$|€|£|¥|₹)\s*\]\]\s*\d[\d.,]*"
                     r"(?:\s+[^\W\d_]+)?\s*(?:\([^()]*\))?\s*$")
# One common noun linked amid lowercase words (`[[metal]] products`, `commercial [[ship]]
# repair`): a kind of thing named by a phrase, not the linked page
_LINK_IN_WORDS = re.compile(r"^\s*(?P<before>(?:[^\W\d_]+\s+){0,3})\[\[(?:[^\[\]|]*\|)?"
                            r"(?P<text>[^\[\]|]+)\]\][^\W\d_]*(?P<after>(?:\s+[^\W\d_]+){0,3})\s*$")
# Words that relate or list things rather than make one noun of them
_RELATING_WORD = re.compile(r"^(?:and|or|from|to|by|with|on|as|und|oder|et|ou|y|e|o)$")
# Keys whose value is a word of a closed set (the side of the road), however it is linked:
# `drives_on = [[Right- and left-hand traffic|right]]` is "right", not the page explaining it
_WORD_KEY = re.compile(r"^(?:drives_on|driving_side)$", re.I)
# Keys whose value is a word for the people, which a pipe may link to a page on something
# else (`demonym = [[Culture of Aruba|Aruban]]`, `[[Adjectivals and demonyms for U.S.
# states|Alabamian]]`); a page named by the word is the people's (fr `gentilé =
# [[Autrichiens|Autrichien]]`, `[[Asian people|Asian]]`)
_DEMONYM_KEY = re.compile(r"demonym|gentil|demónimo|einwohnerbezeichnung", re.I)
_AUTHORITY_KEY = re.compile(r"(?:^|_)authority$", re.I)
# A number and a link whose text counts the things its page is about (`divisions = 12
# [[Boroughs an localities o Berlin|boroughs]]`): the count, not the page
_COUNT = re.compile(r"^\s*\d[\d.,]*\s+\[\[(?P<target>[^\[\]|]+)\|(?P<text>[^\[\]|]+)\]\]\s*$")
# A code in digits: a dialling prefix, spaces and dashes (`+49 30`, `030`)
_DIGITS = re.compile(r"\+?\d[\d \-–]*")
# (tr names a list after its topic: `Ülkeler listesi`, the list of countries)
_LIST_PAGE = re.compile(r"^(?:list[ _]of|lists[ _]of|liste[ _]de|liste[ _]des|liste[ _]der|"
                        r"lista[ _]de|lista[ _]di|elenco|danh[ _]sách)\b|^.+[ _]listesi$", re.I)
# The topic of an English list's title, whose last word is its head noun (`List of
# metropolitan areas in Asia`: areas)
_LIST_TOPIC = re.compile(r"^lists?[ _]of[ _](?P<topic>.+?)(?P<scope>[ _](?:in|of|by|for|from|on|"
                         r"with|within)[ _].*)$", re.I)
# Languages that count with a singular noun (tr `12 ilçe`, twelve district), which the page
# on the things names in its plural (`Berlin'in ilçeleri`)
_NUMERAL_SINGULAR = frozenset("tr az hu ku".split())
# A time offset at an item's start (`+4:30 [[Solar Hijri calendar|Solar Calendar]]`), under
# a key that holds one: the offset is the value, a link after it a note
_OFFSET_KEY = re.compile(r"utc_?offset|gmt_?offset|(?:^|_)offset(?:_dst)?$", re.I)
_LEADING_OFFSET = re.compile(r"^\s*(?:UTC|GMT)?\s*[+−–-]\s*\d{1,2}(?:[:.]\d{2})?(?![\d.,])")


def _unqualified_templates(code: Wikicode) -> list[Template]:
    """The item's templates, less those in parentheses after words: ``Adoption de la loi sur
    la [[neutralité autrichienne]] ({{date-|1955}})`` is the law's adoption, which the date
    qualifies, as a link in parentheses qualifies the text before it."""
    found, depth, words = [], 0, False
    for node in code.nodes:
        if isinstance(node, Template) and not (depth and words):
            found.append(node)
        elif isinstance(node, (Text, Wikilink)):
            text = str(node)
            words = words or (not depth and bool(re.search(r"[^\W\d_]{2}", text.split("(")[0])))
            depth = max(0, depth + text.count("(") - text.count(")"))
    return found


def _is_link_in_words(text: str) -> bool:
    """Whether an item is a common noun's link (lowercase, as written) in a phrase of
    lowercase words (``[[tobacco]] products``).  A name's link keeps its page, the words
    then qualify it (``[[DJIA]] component``, ``clade [[Heterobranchia]]``); capitalised
    words are names of their own (``[[Hamburg]] Germany``); words that relate or list
    (``[[vehicle]]s and spare parts``, ``from [[Portugal]]``) make no one noun; a link's
    plural ``s`` is no word."""
    match = _LINK_IN_WORDS.match(text)
    words = (match["before"] + match["after"]).split() if match else []
    return bool(words) and match["text"].strip()[:1].islower() and all(
        word.islower() and not _RELATING_WORD.match(word) and not _PHRASE_WORD.match(word)
        for word in words)


def _is_shown_word(links: list, key: str) -> bool:
    """Whether an item's links show the value rather than link it: a closed-set word
    (:data:`_WORD_KEY`), or a demonym behind a pipe to a page not named by it
    (:data:`_DEMONYM_KEY`)."""
    return bool(_WORD_KEY.match(key)) or (bool(_DEMONYM_KEY.search(key)) and bool(links) and all(
        link.text is not None and not str(link.title).strip().lower().startswith(
            link.text.strip_code().strip().lower()) for link, _ in links))


def _is_count(text: str, titles: TitleNormalizer, lang: str = "en") -> bool:
    """Whether an item is a number of things linked to the page about them, the link's
    text their lowercase plural (``12 [[Boroughs an localities o Berlin|boroughs]]``): a
    count (a linked unit is :data:`_MEASURE`'s, an unpiped link a page).  A language that
    counts with a singular (:data:`_NUMERAL_SINGULAR`) writes the page's word without its
    plural ending (tr ``12 [[Berlin'in ilçeleri|ilçe]]``)."""
    match = _COUNT.match(text)
    article = titles.article(match["target"]) if match else None
    if not article:
        return False
    shown = match["text"].strip()
    if lang in _NUMERAL_SINGULAR:
        stems = article.lower().replace("_", " ").split()
        return shown[:1].islower() and all(
            len(word) >= 3 and any(stem.startswith(word) for stem in stems) for word in shown.split())
    return shown.endswith("s") and _names_list(shown, article)


def _digits_code(code: Wikicode, key: str, lang: str) -> Value | None:
    """Under an identifier key, an item whose text is a code in digits is that code, however
    its parts are linked: ``[[+49]] 30`` (a page on the country's prefix), ``[[Telephone
    numbers in Algeria|+213]]`` (a page on the codes) are no entities."""
    if not _CODE_KEY.search(key):
        return None
    text = clean_inline(code)
    return Value("string", text, lang=lang) if _DIGITS.fullmatch(text) else None


def _lone_url(code: Wikicode) -> Value | None:
    """An item that is one external link is its URL, not its label: `website =
    [http://www.berlin.de/international/ برلن]` names the site by the wiki's language."""
    nodes = [n for n in code.nodes if not (isinstance(n, Text) and not str(n).strip())]
    if len(nodes) != 1 or not isinstance(nodes[0], ExternalLink):
        return None
    url = str(nodes[0].url).strip()
    return Value("url", url, "xsd:anyURI") if re.match(r"^(?:https?:)?//\S+$", url) else None


def _links_as_text(code: Wikicode, titles: TitleNormalizer) -> Wikicode:
    """Links whose target is not the value, replaced by their text: a section link that
    names something else than its page (``[[CTR#Tabulating Machine Company|Tabulating
    Machine Company]]``, ``[[List of dialling codes#030|030]]``), a piped link to a list
    page (``[[List of sovereign states|Country]]``; an unpiped one or a ``(Full list)`` is
    dropped: a pointer, not a value) and a currency symbol or unit beside a number
    (``[[Dollar américain|$]]``)."""
    if not any(isinstance(node, (Wikilink, Tag)) for node in code.nodes):
        return code
    for link in _word_parts(code):
        code.replace(link, link.text.strip_code().strip())
    measured = bool(re.search(r"\d", str(code)))  # a unit or currency measures a number
    for link in code.filter_wikilinks(recursive=True):
        target = str(link.title).strip()
        text = link.text.strip_code().strip() if link.text is not None else None
        article = titles.article(target)
        if not article:
            continue
        if measured and text is not None and (text.lower() in _CURRENCY or text.lower() in UNITS):
            replacement = text  # `[[Euro|€]]`, `891.85 [[Kilometre|km]]²`; not `[[African Union|AU]]`
        elif _LIST_PAGE.match(article):
            # its text is the value (`[[List of sovereign states|Country]]`, `[[List of
            # demonyms for U.S. states|Alaskan]]`, `[[Danh sách …|4 trên 16]]`), unless it is
            # a list's name too: a pointer (`islands = [[List of islands in the Atlantic
            # Ocean|List of islands]]`), no value
            keep = text and not _PARENTHETICAL.match(text) and not _LIST_PAGE.match(text) \
                and not _names_list(text, article)
            replacement = text if keep else ""
        elif text and _LIST_PAGE.match(text):
            replacement = ""  # `[[Languages of Asia|List of languages]]`: a pointer
        elif "#" in target.lstrip("#") and text and text.lower() != article.lower():
            replacement = text
        else:
            continue
        try:
            code.replace(link, replacement)
        except ValueError:
            continue
    return code


# A time standard's link before an offset's (`[[Coordinated Universal Time|UTC]] [[Alaska
# Standard Time|-9]]`), a lowercase prefix glued to a link (`pre-[[Age of
# Enlightenment|Enlightenment]] science`)
_TIME_STANDARD = re.compile(r"^(?:UTC|GMT)$")
_OFFSET = re.compile(r"[+−–-]\s*\d{1,2}(?:[:.]\d{2})?(?![\d.,])")
_GLUED_PREFIX = re.compile(r"(?:^|[^\w-])([^\W\d_]+)-$")


def _word_parts(code: Wikicode) -> list[Wikilink]:
    """Piped links that are part of a word, not values of their own: a time standard
    before an offset's link (UTC−9 is one offset, whose link is the zone's standard time;
    UTC is no time zone of Alaska), and a link after a lowercase prefix and hyphen (the
    compound pre-Enlightenment is no age of Enlightenment)."""
    nodes, found = code.nodes, []
    for i, node in enumerate(nodes):
        if not isinstance(node, Wikilink) or node.text is None:
            continue
        shown = node.text.strip_code().strip()
        before = str(nodes[i - 1]) if i and isinstance(nodes[i - 1], Text) else ""
        glued = _GLUED_PREFIX.search(before)
        if glued and glued[1].islower():
            found.append(node)
        elif _TIME_STANDARD.match(shown) and _offset_follows(nodes[i + 1:i + 3]):
            found.append(node)
    return found


def _offset_follows(nodes: list) -> bool:
    """Whether the nodes after a link start with an offset (``-7``), or a link whose text is
    one (``[[Alaska Standard Time|-9]]``)."""
    if nodes and isinstance(nodes[0], Text) and _OFFSET.match(str(nodes[0])):
        return True
    if nodes and isinstance(nodes[0], Text) and not str(nodes[0]).strip():
        nodes = nodes[1:]
    return bool(nodes) and isinstance(nodes[0], Wikilink) and nodes[0].text is not None \
        and bool(_OFFSET.fullmatch(nodes[0].text.strip_code().strip()))


def _names_list(text: str, article: str) -> bool:
    """Whether a list page's link text is the list's own topic, lowercase as in running
    prose (``[[List of ports and harbours of the Atlantic Ocean|ports]]``): a pointer to the
    list, not a value (``[[List of sovereign states|Country]]`` names a column)."""
    words = text.split()
    if text[:1].islower() and all(w in article.lower().split() for w in words):
        return True
    # a heading of the list's topic (`[[List of metropolitan areas in Asia|Major urban areas
    # in Asia]]`): its plural head noun and its scope repeated (`''Ranma ½'' video games`,
    # a list without a scope, is the content itself)
    topic = _LIST_TOPIC.match(article)
    if not topic:
        return False
    head = topic["topic"].split()[-1].lower()
    return head.endswith("s") and head in (w.lower() for w in words) \
        and text.lower().endswith(topic["scope"].lower().replace("_", " "))


def _is_phrase(code: Wikicode) -> bool:
    """Whether the words between an item's links (outside parentheses) join them into one
    phrase (``Leader of the [[CDU]] in [[Mecklenburg]]``) rather than list them."""
    outside, depth = [], 0
    for node in code.nodes:
        if isinstance(node, Text):
            for char in str(node):
                depth += char == "("
                if depth == 0:
                    outside.append(char)
                depth -= char == ")" and depth > 0
    return bool(_PHRASE_WORD.search("".join(outside)))


def _shown_value(code: Wikicode, links: list, key: str, lang: str) -> Value | None:
    """An item that is one piped link whose text is a date or a number is that date or
    number, not the linked page (``[[2018 CDU leadership election|7 December 2018]]``,
    ``[[Porsche-Piëch family|13]]``); a year only under a date key."""
    if len(links) != 1 or links[0][0].text is None:
        return None
    shown = clean_inline(links[0][0].text)
    alone = all(node is links[0][0] or isinstance(node, Template)
                or (isinstance(node, Text) and not str(node).strip(" ,;·\n")) for node in code.nodes)
    if not shown or not alone:
        return None
    date = parse_date(shown, allow_year=bool(_DATE_KEY.search(key)))
    if date or not re.fullmatch(r"\d[\d,.]*", shown) or _YEAR.match(shown):
        return date  # `[[2005 German federal election|2005]]` is the election
    return Value("string", shown, lang=lang) if _CODE_KEY.search(key) else parse_number(shown, lang)


_DATE_PAGE = re.compile(r"^-?\d{1,4}$|^(\d{1,2})(?:er|\.)? ([^\W\d_]+)$|^([^\W\d_]+) (\d{1,2})$")


def _is_date_page(title: str) -> bool:
    """A year page or a day-of-year page (``16 août``, ``August 16``), in any language."""
    match = _DATE_PAGE.match(title)
    month = (match[2] or match[3] or "").lower() if match else None
    return month is not None and (not month or month in MONTHS)


def value_template(node: Template, titles: TitleNormalizer) -> Value | None:
    """A template that is a value by itself: dates, quantities, flags (the country),
    URLs, stock tickers."""
    name = _template_name(node)
    args = _positional(node)
    if name in _DATE_TEMPLATES:
        return date_from_template(node)
    if name in ("convert", "cvt", "height"):
        return quantity_from_template(node)
    if name in _FLAG_TEMPLATES and args:
        title = titles.article(args[0])
        return Value("entity", title) if title else None
    if name in _URL_TEMPLATES and args and "." in args[0] and " " not in args[0]:
        url = args[0] if re.match(r"^[a-z][a-z0-9+.-]*://", args[0], re.I) else f"http://{args[0]}"
        return Value("url", url, "xsd:anyURI")
    if name in _EXCHANGES and args:
        return Value("string", f"{_EXCHANGES[name]}: {args[0]}")
    if name in _COORD_TEMPLATES:
        return coordinates(args)
    if name == "emedicine2" and len(args) >= 2:  # `{{eMedicine2|ped|180}}`: specialty/topic
        return Value("string", f"{args[0]}/{args[1]}")
    if name in ("icd10", "icd9") and args and re.fullmatch(r"[\w.]+", args[0]):
        # `{{ICD10|O|04||o|00}}` is O04 (chapter letter, code, optional decimal); `{{ICD9|779.6}}`
        code = args[0] if name == "icd9" else args[0] + "".join(args[1:2])
        if name == "icd10" and len(args) > 2 and args[2]:
            code += "." + args[2]
        return Value("string", code)
    return None


# {{coord}} under other wikis' names (ku `{{Koord|52|31|0|N|13|24|0|E}}`)
_COORD_TEMPLATES = {"coord", "koord", "koordinat", "coordinate"}


def _fossil_range(args: list[str]) -> str:
    """``{{fossil range|Early Cambrian|Late Ordovician}}`` -> ``Early Cambrian – Late
    Ordovician``; ``{{fossil range|370|0}}`` (millions of years ago) -> ``370–0 Ma``."""
    ends = [a for a in args[:2] if a]
    if all(re.fullmatch(r"\d+(?:\.\d+)?", a) for a in ends):
        return "–".join(ends) + " Ma"
    return " – ".join(ends)


def coordinates(args: list[str]) -> Value | None:
    """``{{coord}}``'s latitude and longitude as a WKT point (``POINT(lon lat)``,
    ``geo:wktLiteral``): decimal (``44.1|-87.9``, ``44.1|N|87.9|W``) or degrees, minutes and
    seconds (``57|18|22|N|4|27|32|W``).  Anything else (a malformed or partial coord) is
    no value."""
    fields = [a.strip().upper() for a in args if "=" not in a and a.strip()]
    try:
        if any(f in ("N", "S") for f in fields):
            cut = next(i for i, f in enumerate(fields) if f in ("N", "S"))
            end = next(i for i, f in enumerate(fields) if f in ("E", "W") and i > cut)
            lat = _degrees(fields[:cut], fields[cut] == "S")
            lon = _degrees(fields[cut + 1:end], fields[end] == "W")
        else:
            lat, lon = Decimal(fields[0]), Decimal(fields[1])
    except (StopIteration, IndexError, InvalidOperation, ValueError):
        return None
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    return Value("point", f"POINT({_short(lon)} {_short(lat)})", "geo:wktLiteral")


def _degrees(parts: list[str], negative: bool) -> Decimal | None:
    if not 1 <= len(parts) <= 3:
        return None
    value = sum(Decimal(p) / 60 ** i for i, p in enumerate(parts))
    return -value if negative else value


def _short(number: Decimal) -> str:
    return format(round(number, 6).normalize(), "f")


def _links(code: Wikicode, depth: int = 0):
    """``(link, parenthesis depth)`` of the item's links, inside formatting tags too
    (``''[[Some Book]]''``), but not inside templates or notes."""
    for node in code.nodes:
        if isinstance(node, Text):
            text = str(node)
            depth = max(0, depth + text.count("(") - text.count(")"))
        elif isinstance(node, Wikilink):
            yield node, depth
        elif isinstance(node, Tag) and str(node.tag).lower() not in ("ref", "small", "sup", "sub") \
                and node.contents is not None:
            yield from _links(node.contents, depth)


def _link_titles(links: list, titles: TitleNormalizer, inside: bool) -> list[str]:
    """Article titles of ``(link, depth)`` pairs inside parentheses, or outside them."""
    found = []
    for link, depth in links:
        title = titles.article(str(link.title))
        if title and (depth > 0) == inside and title not in found:
            found.append(title)
    return found


def _outside_parentheses(code: Wikicode) -> Wikicode:
    """The item without its parenthesised parts (and what they hold)."""
    text, depth = [], 0
    for char in str(code):
        depth += char == "("
        if depth == 0:
            text.append(char)
        depth -= char == ")" and depth > 0
    return mwparserfromhell.parse("".join(text))


def _typed_text(code: Wikicode, key: str, lang: str) -> list[Value]:
    """The item's text as a date, a number or a string (identifier keys: a string)."""
    text = clean_inline(_without_small(code))
    labelled = _LABEL.match(text)
    if not text or any(d in text for d in _DEBRIS) or _FILE_VALUE.search(text) \
            or _NO_VALUE.search(text) or (labelled and _NO_VALUE.search(text[labelled.end(1) + 1:].strip())) \
            or (_PLACEHOLDER.match(text) and not _NAMING_KEY.search(key)):
        return []  # (`Native Allies: Unknown`: a placeholder under its label)
    if _is_switch(text, key, lang) or _is_list_setting(text, key):
        return []
    if _CODE_KEY.search(key):
        return [Value("string", text, lang=lang)]
    if _COORD_PART_KEY.search(key):
        text = re.sub(r"^0+(?=\d)", "", text)  # `longm = 08`: a minute, not a code
    if not _DATE_KEY.search(key):
        text = _LEADING_PERIOD.sub("", text)  # `1931–82 American`: the period qualifies
    value = parse_date(text, allow_year=bool(_DATE_KEY.search(key)), lang=lang)
    if value is None:
        value = parse_number(text, lang)
    if value is None:
        value = Value("string", text, lang=lang)
    return [value]


# Keys of a work's list of its own parts (`list_episodes = List of The Ren & Stimpy Show
# episodes`): its page on them, a related work; not the page a box links for a heading
_PARTS_LIST_KEY = re.compile(r"episode|chapter|volume|song|track", re.I)


def _is_list_setting(text: str, key: str) -> bool:
    """Whether a value is a list page's title as the page a box links (Asia's
    `list_countries = List of sovereign states and dependent territories in Asia`,
    `subsid = List of subsidiaries`): no value, unless a name or a work's parts list."""
    return bool(_LIST_PAGE.match(text)) and not _NAMING_KEY.search(key) \
        and not _PARTS_LIST_KEY.search(key)


def _is_switch(text: str, key: str, lang: str) -> bool:
    """Whether a value is a layout switch (:data:`_SWITCH_WORDS`), not a fact."""
    word = text.lower()
    return (word in _SWITCHES["en"] or word in _SWITCHES.get(lang, ())) \
        and not _BOOLEAN_KEY.search(key)


# A coordinate's degrees, minutes or seconds (`latd`, `longm`, `lat_sec`), often written with
# a leading zero, which here is no code's
_COORD_PART_KEY = re.compile(r"^(?:lat|long?)_?(?:d|m|s|deg|min|sec|degrees|minutes|seconds)$", re.I)
_LEADING_PERIOD = re.compile(r"^\d{4}\s*[–—-]\s*(?:\d{2,4}|present)\s+(?=[^\W\d_])", re.I)


_POWERS = {"2": "²", "3": "³"}


def _without_small(code):
    """Drop ``<small>`` notes and leftover templates: their text is commentary.  A unit's
    power written as a superscript stays (``87/km<sup>2</sup>``: ``87/km²``, a density)."""
    for i, node in enumerate(list(code.nodes)):
        if isinstance(node, Tag) and str(node.tag).lower() == "sup" and i \
                and str(node.contents).strip() in _POWERS and re.search(r"[^\W\d_]$", str(code.nodes[i - 1])):
            code.replace(node, _POWERS[str(node.contents).strip()])
        elif isinstance(node, Tag) and str(node.tag).lower() in ("small", "sup", "sub"):
            code.remove(node)
        elif isinstance(node, Template):
            code.remove(node)
    return code


_UNIT_TOKEN = re.compile(r"(?:^|_)(?:sq_?)?(?:km|mi|m|ft|cm|mm|in|yd)\d$")
_INDEX = re.compile(r"(?<=[a-z])\d+$|_\d{1,2}$")  # `name1`, `name_2`; not `rider_125`
_PAIR = re.compile(r"^(?P<stem>.+)_(?P<part>name|title)(?P<index>_?\d+)$")


def normalize_key(raw: str, siblings: frozenset[str] = frozenset()) -> str:
    """``Leader name1`` -> ``leader_name``: lowercase, trimmed, spaces to ``_``, without a
    trailing index (``leader_name1``, ``vice_president_2``).  Digits that mean something
    stay: a unit's (``area_total_km2``), three or more after ``_`` (``pole_rider_125``), and
    the index of a ``*_name``/``*_title`` pair whose partner is among ``siblings`` (the
    infobox's keys, lowercased with ``_``: ``leader_name1`` and ``leader_title1`` must not
    merge with ``leader_name2``)."""
    key = _plain_key(raw)
    if _UNIT_TOKEN.search(key):
        return key
    pair = _PAIR.match(key)
    if pair:
        partner = "title" if pair["part"] == "name" else "name"
        if f"{pair['stem']}_{partner}{pair['index']}" in siblings:
            return key
    return _INDEX.sub("", key).rstrip("_") or key


def _plain_key(raw: str) -> str:
    key = re.sub(r"<!--.*?-->", "", raw, flags=re.S).strip().lower()
    return re.sub(r"\s+", "_", key)


def sibling_keys(raws: list[str]) -> frozenset[str]:
    """The keys of one infobox as :func:`normalize_key` compares them."""
    return frozenset(_plain_key(raw) for raw in raws)
