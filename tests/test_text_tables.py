"""The text parsers, table-driven: wikitext as it appears in real articles (leads, infobox
values, keys, titles), and what each parser must make of it."""

from __future__ import annotations

import pytest

from extraction.records import SiteInfo
from extraction.titles import TitleNormalizer, strip_disambiguator
from extraction.values import normalize_key, parse_date, parse_number, parse_value
from extraction.wikitext import clean_page, is_disambiguation

TITLES = TitleNormalizer(SiteInfo(namespaces={6: "File", 14: "Category", 10: "Template"}))


@pytest.mark.parametrize("text, value, datatype", [
    ("4 July 1776", "1776-07-04", "xsd:date"),
    ("July 4, 1776", "1776-07-04", "xsd:date"),
    ("1776-07-04", "1776-07-04", "xsd:date"),
    ("30 April 1945 (aged 56)", "1945-04-30", "xsd:date"),
    ("March 2001", "2001-03", "xsd:gYearMonth"),
    ("1809", "1809", "xsd:gYear"),
])
def test_dates(text, value, datatype):
    parsed = parse_date(text)
    assert (parsed.value, parsed.datatype) == (value, datatype)


@pytest.mark.parametrize("text", ["c. 1450", "1960s", "about 300 years", "Sunday"])
def test_what_is_not_one_date(text):
    assert parse_date(text) is None


@pytest.mark.parametrize("text, kind, value, unit", [
    ("1,234,567", "integer", "1234567", None),
    ("3.2 million", "integer", "3200000", None),
    ("−12.5", "decimal", "-12.5", None),
    ("12 km2", "quantity", "12", "km2"),
    ("42%", "quantity", "42", "%"),
    ("US$ 2.5 billion", "quantity", "2500000000", "USD"),
    ("5.9 ft", "quantity", "5.9", "ft"),
    ("6,000 m (19,685 ft)", "quantity", "6000", "m"),
])
def test_numbers_and_quantities(text, kind, value, unit):
    parsed = parse_number(text)
    assert (parsed.kind, parsed.value, parsed.unit) == (kind, value, unit)


@pytest.mark.parametrize("text", ["71st", "870–274", "about 300"])
def test_what_is_not_one_number(text):
    assert parse_number(text) is None


@pytest.mark.parametrize("raw, key, expected", [
    ("[[Barack Obama]]", "president", [("entity", "Barack Obama")]),
    ("[[Democratic Party (United States)|Democratic]]", "party",
     [("entity", "Democratic Party (United States)")]),
    ("{{flagicon|USA}} [[United States]]", "country", [("entity", "United States")]),
    ("{{plainlist|\n* [[Malia Obama|Malia]]\n* [[Sasha Obama|Sasha]]\n}}", "children",
     [("entity", "Malia Obama"), ("entity", "Sasha Obama")]),
    ("{{ubl|[[Paris]]|[[Lyon]]}}<ref>x</ref>", "cities", [("entity", "Paris"), ("entity", "Lyon")]),
    ("[[Washington, D.C.]]", "capital", [("entity", "Washington, D.C.")]),
    ("{{death date and age|2013|12|5|1918|7|18}}", "death_date", [("date", "2013-12-05")]),
    ("{{height|m=1.83}}", "height", [("quantity", "1.83")]),
    ("Lawyer<br />Politician", "profession", [("string", "Lawyer"), ("string", "Politician")]),
    ("{{cite web|title=x}}", "x", []),
    # codes keep their leading zero and digit groups; numbers with one are no numbers
    ("01208", "postal_code", [("string", "01208")]),
    ("+44 20 7946 0958", "phone", [("string", "+44 20 7946 0958")]),
    ("01208", "population", [("string", "01208")]),
    # files, their sizes and captions are no facts about the subject
    ("[[File:Flag of Alabama.svg|180]]", "image_flag", []),
    ("[[File:Seal.png|100px]]", "motto", []),
    ("250px", "image_size", []),
    # an "as of" year is a year; an invisible character alone is no value
    ("2011", "population_as_of", [("date", "2011")]),
    ("&#8288;", "name", []),
    # a parenthetical line after <br> qualifies the item before it
    ("[[Jane Doe]]<br />(1994–2002)", "spouse", [("entity", "Jane Doe")]),
    ("Jane Doe<br />(1994–2002)", "spouse", [("string", "Jane Doe (1994–2002)")]),
    # a link in parentheses qualifies the value before it; it is not the value
    ("1,234,567 ([[List of largest cities of Texas|3rd]])", "population_total",
     [("integer", "1234567")]),
    ("August 27, 1793 (as [[Old Town]])", "established_date", [("date", "1793-08-27")]),
    ("Jane Doe ([[Chairman]])", "key_people", [("string", "Jane Doe")]),
    ("[[Jane Doe]] ([[Chairman]])", "key_people", [("entity", "Jane Doe")]),
    ("([[Chairman]])", "key_people", [("entity", "Chairman")]),
    # nested content: links in italics, layout wrappers, nested and numbered lists
    ("''[[Animal Farm]]'' (1945)", "notable_works", [("entity", "Animal Farm")]),
    ("{{nowrap|{{death date and age|2013|12|5|1918|7|18}}}}", "death_date",
     [("date", "2013-12-05")]),
    ("{{longitem|[[Paris]]}}", "city", [("entity", "Paris")]),
    ("{{plainlist|\n* {{hlist|[[Ann]]|[[Bob]]}}\n* [[Cy]]\n}}", "members",
     [("entity", "Ann"), ("entity", "Bob"), ("entity", "Cy")]),
    ("{{Collapsible list|title=Members|1=[[Ann]]|2=[[Bob]]}}", "members",
     [("entity", "Ann"), ("entity", "Bob")]),
    # value templates: websites, flags, stock tickers
    ("{{URL|example.com}}", "website", [("url", "http://example.com")]),
    ("{{URL|https://www.example.org/about}}", "website", [("url", "https://www.example.org/about")]),
    ("{{flag|France}}", "country", [("entity", "France")]),
    ("{{NYSE|IBM}}", "traded_as", [("string", "NYSE: IBM")]),
    # coordinates: a WKT point (longitude first), decimal or degrees/minutes/seconds
    ("{{coord|57|18|22|N|4|27|32|W|display=title}}", "coordinates",
     [("point", "POINT(-4.458889 57.306111)")]),
    ("{{Coord|44.112|-87.913|type:city}}", "coordinates", [("point", "POINT(-87.913 44.112)")]),
    ("{{coord|95|0}}", "coordinates", []),
    # other languages' date templates, day first, month names included
    ("{{Date de naissance|16|8|1958}}", "naissance", [("date", "1958-08-16")]),
    ("{{Datum|25|08|2017}}", "datum", [("date", "2017-08-25")]),
    ("{{date|16|août|1958}}", "date", [("date", "1958-08-16")]),
    ("{{dts|2001|March|4}}", "released", [("date", "2001-03-04")]),
    ("{{fecha|3|mayo|1999}}", "fecha", [("date", "1999-05-03")]),
    # other languages' plain dates and date-page links
    ("1er janvier 1900", "date_de_naissance", [("date", "1900-01-01")]),
    ("3 de mayo de 1999", "fecha", [("date", "1999-05-03")]),
    ("[[16 août]] [[1958]]", "date de naissance", [("date", "1958-08-16")]),
    # the hand audit's failure classes (docs/benchmarks.md, Extraction quality: hand audit)
    # a piped link whose text is a date or a number is that date or number
    ("[[2018 Christian Democratic Union of Germany leadership election|7 December 2018]]\n",
     "term_end1", [("date", "2018-12-07")]),
    ("[[Porsche-Piëch family#Piëch descendants of Louise Porsche|13]]", "children",
     [("integer", "13")]),
    ("[[List of dialling codes in Germany#030 – Berlin|030]]", "area_code", [("string", "030")]),
    ("[[2005 German federal election|2005]]", "election", [("entity", "2005 German federal election")]),
    # a section link that names something else than its page is that name; list pages are
    # pointers, not values
    ("[[Computing-Tabulating-Recording Company#Tabulating Machine Company|Tabulating Machine "
     "Company]]", "predecessors", [("string", "Tabulating Machine Company")]),
    ("[[Gerhard Schröder#Chancellor of Germany, 1998–2005|Gerhard Schröder]]", "predecessor",
     [("entity", "Gerhard Schröder")]),
    ("[[List of sovereign states|Country]]", "subdivision_type", [("string", "Country")]),
    ("{{hlist|[[SPSS]]|([[List of IBM products|Full List]])}}", "products", [("entity", "SPSS")]),
    # one value once per parameter
    ("[[Longbridge]], [[England]]<br/>[[Cowley, Oxfordshire]], [[England]]", "assembly",
     [("entity", "Longbridge"), ("entity", "England"), ("entity", "Cowley, Oxfordshire")]),
    # templates that stand for their text, wrappers inside formatting
    ("{{Decrease}} {{US$|link=yes}}73.62&nbsp;billion (2020)", "revenue",
     [("quantity", "73620000000")]),
    ("<big>{{lang|brh|براهوئي}}</big>", "nativename", [("string", "براهوئي")]),
    ("{{sigfig|4.22|1}} million", "speakers", [("integer", "4220000")]),
    ("52 (93 segments)", "num_episodes", [("integer", "52")]),  # no "iso" code key
    # files, captions and layout settings in any position of the key; placeholders
    ("Coat of arms of Berlin.svg", "image_shield", []),
    ("70px", "shield_size", []),
    ("Merkel in 2019", "caption", []),
    ("yes", "pushpin_relief", []),
    ("group_or_band", "background", []),
    ("Chancellor of Germany", "chancellor_link", []),
    ("Land der Berge Land am Strome instrumental.ogg", "audio_hymne", []),
    ("[[Dolby Stereo]] (1991&ndash;1994)", "audio_format", [("entity", "Dolby Stereo")]),
    ("present", "term_end", []),
    ("Unknown first wife (before 1984)<br>Ursula Piëch (1984–2019)", "spouse",
     [("string", "Ursula Piëch (1984–2019)")]),
    # words that join links make one phrase; a line that goes on continues the one before
    ("[[Bundestag]] Leader of the [[CDU/CSU|CDU/CSU Group]]", "office4",
     [("string", "Bundestag Leader of the CDU/CSU Group")]),
    ("[[Member of the German Bundestag|Member]] of the [[Bundestag]] <br /> for "
     "[[Mecklenburg-Vorpommern]]", "office9",
     [("string", "Member of the Bundestag for Mecklenburg-Vorpommern")]),
    ("[[Hamburg]], [[West Germany]]", "birth_place", [("entity", "Hamburg"), ("entity", "West Germany")]),
    # comma lists: each part a link or a short phrase is an item (Marian Breland Bailey, Asda,
    # Redd Kross); numbers, dates, prose with joining words and places are one value
    ("psychologist, animal trainer, behavioral scientist", "occupation",
     [("string", "psychologist"), ("string", "animal trainer"), ("string", "behavioral scientist")]),
    ("Grocery, [[general merchandise]], [[financial services]]", "products",
     [("string", "Grocery"), ("entity", "General merchandise"), ("entity", "Financial services")]),
    ("The Tourists, Red Cross", "alias", [("string", "The Tourists"), ("string", "Red Cross")]),
    ("[[Clothing]], [[semiconductor]]s, [[Solid-state drive|solid state drives]]", "products",
     [("entity", "Clothing"), ("entity", "Semiconductor"), ("entity", "Solid-state drive")]),
    ("{{increase}} 165,000", "num_employees", [("integer", "165000")]),
    ("May 1, 2001", "released", [("date", "2001-05-01")]),
    ("University of California, Berkeley", "alma_mater",
     [("string", "University of California, Berkeley")]),
    ("Leeds, England, UK", "location", [("string", "Leeds, England, UK")]),
    ("synchromesh on top three, then all four ratios after 1968", "transmission",
     [("string", "synchromesh on top three, then all four ratios after 1968")]),
    # links written as templates: an interlanguage link is its target, {{linktext}} its text
    ("({{ill|Ewald Wüst|de|lt=Wüst}}, 1901)", "binomial_authority", [("entity", "Ewald Wüst")]),
    ("{{ill|Keller Breland|de}}", "spouse", [("entity", "Keller Breland")]),
    ("{{linktext|삼성}}", "hangul", [("string", "삼성")]),
    ("{{linktext|三|星}}", "hanja", [("string", "三星")]),
    # fresh set 3 of the hand audit (American Revolutionary War, Aldous Huxley, Ayn Rand,
    # Abortion, Algeria, Atlantic Ocean): bullets after a template are items; a blank line
    # is a paragraph break; {{flagdeco}} is an icon, not the country beside it
    ("{{flagcountry|Kingdom of Great Britain}}\n* [[Loyalist (American Revolution)|Loyalists]]"
     "\n* [[Germans in the American Revolution|German auxiliaries]]", "combatant2",
     [("entity", "Kingdom of Great Britain"), ("entity", "Loyalist (American Revolution)"),
      ("entity", "Germans in the American Revolution")]),
    ("'''Navy:'''<br>\n94 ships of the line (active 1782)<br />\n171,000 Sailors\n\n"
     "'''Loyalist forces:'''<br />\n19,000 (total number that served)", "strength2",
     [("string", "94 ships of the line (active 1782)"), ("string", "171,000 Sailors"),
      ("integer", "19000")]),
    ("*{{flagdeco|United States|1776}} [[Thirteen Colonies|United Colonies]] <small>(before "
     "1776)</small>\n*[[Vermont Republic]] <small>(from 1777)</small>", "combatant1",
     [("entity", "Thirteen Colonies"), ("entity", "Vermont Republic")]),
    # {{marriage}} is the spouse; dashes written as templates are dashes
    ("{{Unbulleted list|class=nowrap |{{marriage|Maria Nys|()=smaller|1919|1955}} |{{marriage|"
     "[[Laura Huxley]]|()=smaller|1956|1963}}}}", "spouses",
     [("string", "Maria Nys"), ("entity", "Laura Huxley")]),
    ("{{marriage|Frank O'Connor|1929|1979|end=w.}}", "spouse", [("string", "Frank O'Connor")]),
    ("April 19, 1775{{snds}}September 3, 1783<br />({{Age in years, months and days|1775|04|19|"
     "1783|09|03}})", "date", [("string", "April 19, 1775 – September 3, 1783")]),
    # code templates; a code shown by a piped link; a link to a list named as a list
    ("{{ICD10|O|04||o|00}}", "ICD10", [("string", "O04")]),
    ("{{ICD10|F|84|0|f|84}}", "ICD10", [("string", "F84.0")]),
    ("{{ICD9|779.6}}", "ICD9", [("string", "779.6")]),
    ("[[Telephone numbers in Algeria|+213]]", "calling_code", [("string", "+213")]),
    ("[[List of islands in the Atlantic Ocean|List of islands]]", "islands", []),
    ("[[List of demonyms for U.S. states|Alaskan]]", "Demonym", [("string", "Alaskan")]),
    ("1 E12", "area_magnitude", []),
    # sets 1-3 of the hand audit, the classes left: a labelled part after the whole's value
    # is the part's (the Atlantic's halves, a treaty's date); labels naming every item (a
    # car's bodies) or a bare label first (a war's sides) keep their items
    ("{{cvt|106460000|km2}}<br />North Atlantic: {{cvt|41490000|km2}},<br /> South Atlantic "
     "{{cvt|40270000|km2}}", "area", [("quantity", "106460000")]),
    ("April 19, 1775{{snds}}September 3, 1783<br />({{Age in years, months and days|1775|04|19|"
     "1783|09|03}})<br /> Ratification effective: May 12, 1784", "date",
     [("string", "April 19, 1775 – September 3, 1783")]),
    ("Estate: {{convert|2140|mm|in|1|abbr=on}}<br/>Saloon: {{convert|2040|mm|in|1|abbr=on}}",
     "wheelbase", [("quantity", "2140"), ("quantity", "2040")]),
    ("[[Colin Gibson (production designer)|Colin Gibson]] <br />''[[Mad Max: Fury Road]]'' "
     "([[88th Academy Awards|2015]])", "holder",
     [("entity", "Colin Gibson (production designer)"), ("entity", "Mad Max: Fury Road")]),
    # bold labels inside a line start groups; a placeholder under its label is no value
    ("'''United States:'''<br /> 6,824 killed in battle<br />\n'''France:''' 10,000 battle "
     "deaths (75% at sea)\n'''Spain:''' 5,000 killed", "casualties1",
     [("string", "6,824 killed in battle"), ("string", "France: 10,000 battle deaths (75% at sea)"),
      ("string", "Spain: 5,000 killed")]),
    ("'''Allies:'''<br /> 12,000 French (in America)<br />\n'''Native Allies:''' Unknown",
     "strength1", [("string", "12,000 French (in America)")]),
    # a place beside a measure is where it is measured; a number before a linked noun
    ("[[Puerto Rico Trench]]<br /> {{cvt|8376|m}}", "max-depth", [("quantity", "8376")]),
    ("5,000 [[Continental Navy]] sailors (at height in 1779)", "strength1",
     [("string", "5,000 Continental Navy sailors (at height in 1779)")]),
    # a line that ends in a joining word goes on; a leading period qualifies
    ("[[Kingdom of Great Britain|British]] recognition of the independence of the <br />"
     "[[United States|United States of America]]", "result",
     [("string", "British recognition of the independence of the United States of America")]),
    ("1922–31&nbsp;&nbsp;[[Soviet Union|Soviet]]<br /> 1931–82&nbsp;&nbsp;American",
     "citizenship", [("entity", "Soviet Union"), ("string", "American")]),
    # a list page named by its topic is a pointer; value templates; notes and captions
    ("[[List of countries and territories bordering the Atlantic Ocean|List of bordering "
     "countries (not drainage basin)]], [[List of ports and harbours of the Atlantic Ocean|ports]]",
     "basin_countries", []),
    ("{{fossil_range|Early Cambrian|Late Ordovician}}", "fossil_range",
     [("string", "Early Cambrian – Late Ordovician")]),
    ("{{Fossil range|5|0}}", "fossil_range", [("string", "5–0 Ma")]),
    ("[[Late Devonian]]–[[Holocene]], {{fossil range|370|0}}", "fossil_range",
     [("entity", "Late Devonian"), ("entity", "Holocene")]),
    ("''{{small|{{native name|ar|{{noitalic|الجمهورية الجزائرية}}}}}}<br>{{small|{{native name|"
     "ber|{{noitalic|ⵟⴰⴳⴷⵓⴷⴰ}}}}}}''", "native_name",
     [("string", "الجمهورية الجزائرية"), ("string", "ⵟⴰⴳⴷⵓⴷⴰ")]),
    ("{{vunblist | 99% {{nowrap|Arab-Berber{{ref label|Amazigh|a|}}}} | 1% Others}}",
     "ethnic_groups", [("string", "99% Arab-Berber"), ("string", "1% Others")]),
    ("Emblem", "symbol_type", []),
    ("The CIA World Factbook states that about 15% of Algerians identify as Berber.",
     "footnote_a", []),
    ("en", "cianame", []),
    ("632 as of 31 January 2021", "locations", [("integer", "632")]),
    # fresh set 4: a `<br/ >` with a space is a break; a line ending in a joining word goes
    # on (Azerbaijan's `Independence from<br />the Soviet Union`); link settings are no
    # value (Ranma ½'s `episode_list`, `volume_list`, `wikisource`); a linked currency
    # symbol before a number is the amount (Economy of Angola's `[[€]]41.3 billion`)
    ("Lawyer<br/ >Politician", "profession", [("string", "Lawyer"), ("string", "Politician")]),
    ("[[Ann]]< br />[[Bob]]", "spouse", [("entity", "Ann"), ("entity", "Bob")]),
    ("{{nowrap|Independence from<br />the Soviet Union}}", "established_event2",
     [("string", "Independence from the Soviet Union")]),
    ("Ratified by<br />all thirteen states", "established_event1",
     [("string", "Ratified by all thirteen states")]),
    ("[[List of Ranma ½ episodes]]", "episode_list", []),
    ("[[List of Ranma ½ chapters|Chapters]]", "volume_list", []),
    ("Ranma ½", "wikisource", []),
    ("[[€]]41.3 billion (2019)", "gdp_nominal", [("quantity", "41300000000")]),
    ("[[Euro|€]]41.3 billion", "revenue", [("quantity", "41300000000")]),
    ("{{increase}} [[€]]41.3 billion ({{small|[[Fiscal Year|FY]] 2019}})", "revenue",
     [("quantity", "41300000000")]),  # IKEA: an icon before the amount
    # set 4, value templates that gave nothing: {{married}} is {{marriage}}; {{taxon list}}
    # alternates a taxon and its authority; the English release templates list one company
    # per region (Ranma ½); {{eMedicine2}} is a topic code (Autism)
    ("{{married|[[Munírih Khánum]]|1873}}", "spouse", [("entity", "Munírih Khánum")]),
    ("{{taxon list\n|[[Chondrostei]]|<!--Missing authority information-->\n|[[Neopterygii]]|"
     "<!--Missing authority information-->}}", "subdivision",
     [("entity", "Chondrostei"), ("entity", "Neopterygii")]),
    ("{{Taxon list|[[Chondrostei]]|Müller, 1844|''[[Polypterus]]''|Lacépède, 1803}}",
     "subdivision", [("entity", "Chondrostei"), ("entity", "Polypterus")]),
    ("{{English manga publisher\n | AUS = [[Madman Entertainment]]\n | NA  = [[Viz Media]]\n}}",
     "publisher_en", [("entity", "Madman Entertainment"), ("entity", "Viz Media")]),
    ("{{English anime licensee\n  | AUS = Madman Entertainment\n  | NA  = Viz Media\n"
     "  | UK  = [[MVM Films]]\n}}", "licensee",
     [("string", "Madman Entertainment"), ("string", "Viz Media"), ("entity", "MVM Films")]),
    ("{{English anime network|SEA=[[Animax (Southeast Asia)|Animax]]}}", "network_en",
     [("entity", "Animax (Southeast Asia)")]),
    ("{{eMedicine2|ped|180}}", "eMedicine_mult", [("string", "ped/180")]),
    # set 4, layout switches: how many parent taxa a taxobox shows (Aardvark)
    ("4", "display_parents", []),
    # set 4, links of a phrase: a link with lowercase words around it names a kind of thing
    # (Economy of Angola's `[[metal]] products`), not the linked page; a link whose text is a
    # unit is the unit only beside a number (`[[African Union|AU]]` is no astronomical unit)
    ("[[petroleum]], [[diamonds]], [[metal]] products, [[tobacco]] products, [[textile]]s, "
     "commercial [[ship]] repair", "industries",
     [("entity", "Petroleum"), ("entity", "Diamonds"), ("string", "metal products"),
      ("string", "tobacco products"), ("entity", "Textile"), ("string", "commercial ship repair")]),
    ("[[African Union|AU]], [[Southern African Development Community|SADC]], [[World Bank]]",
     "organs", [("entity", "African Union"), ("entity", "Southern African Development Community"),
                ("entity", "World Bank")]),
    ("891.85 [[Kilometre|km]]", "area", [("quantity", "891.85")]),
    # a name's link keeps its page (IBM's traded_as, a taxobox's rank label); words that
    # relate or list make no one noun (Angola's `from [[Portugal]]`)
    ("{{ubl|{{NYSE|IBM}}|[[DJIA]] component|[[S&P 100]] component}}", "traded_as",
     [("string", "NYSE: IBM"), ("entity", "DJIA"), ("entity", "S&P 100")]),
    ("clade [[Heterobranchia]]", "unranked_superfamilia", [("entity", "Heterobranchia")]),
    ("[[machinery]], [[vehicle]]s and spare parts", "import-goods",
     [("entity", "Machinery"), ("entity", "Vehicle")]),
    ("from [[Portugal]]", "established_event1", [("entity", "Portugal")]),
    ("[[Hamburg]] [[West Germany]]", "birth_place", [("entity", "Hamburg"), ("entity", "West Germany")]),
    # a side of the road is a word, whatever page explains it (Azerbaijan)
    ("[[Right- and left-hand traffic|right]]", "drives_on", [("string", "right")]),
    # set 4, notes to the reader are no values: a pointer to another page or the text
    # (Abraham Lincoln's religion, Aardvark's subdivision), a line labelled as a note after a
    # list (Lincoln's ranks)
    ("See: [[Abraham Lincoln and religion]]", "religion", []),
    ("See Text", "subdivision", []),
    ("''See below''", "members", []),
    ("{{Plainlist}}\n* [[Captain (US Army)|Captain]]<br />{{small|(April 21, 1832 – May 27, 1832)}}"
     "\n* [[Private (United States)|Private]]<br />{{small|(May 28, 1832 – July 10, 1832)}}\n"
     "{{small|OBS:.}} Discharged from his command and re-enlisted as a Private.", "rank",
     [("entity", "Captain (US Army)"), ("entity", "Private (United States)")]),
    ("[[See You Again]]", "single", [("entity", "See You Again")]),
    # set 4, garbled: a fraction template is its fraction (Ranma ½'s title)
    ("らんま {{sfrac|1|2}}", "ja_kanji", [("string", "らんま ½")]),
    ("{{frac|3|1|4}} miles", "length", [("string", "3¼ miles")]),
    # set 5, layout as values: the page a flag image links to (Alaska's Flaglink), a box's
    # colour (Ampere's bgcolour, a colour value anywhere); a `color` names the subject's
    ("[[Flag of Alaska|Flag]]", "Flaglink", []),
    ("[[#0000FF]]", "bgcolour", []),
    ("[[#B0C4DE]]", "header", []),
    ("Dravidian", "familycolor", [("string", "Dravidian")]),
    # set 5, a width that measures the subject (Alaska's `Width = 3,639`, in miles) is kept;
    # an image's width stays layout
    ("3,639", "width", [("integer", "3639")]),
    ("250", "width", []),
    ("250px", "width", []),
    # set 5, garbled: {{longitem}}'s style argument is no text, its content a line of its own
    # (Aristotle's birth date, then his birthplace)
    ("384 BC {{longitem|padding-top:0;line-height:1.4em |[[Stagira (ancient city)|Stagira]],"
     "<br/>Chalcidice ([[Chalkidiki]]),<br/>Northern [[Greece]]}}", "birth_date",
     [("string", "384 BC"), ("entity", "Stagira (ancient city)"), ("string", "Chalcidice"),
      ("entity", "Greece")]),
    ("{{longitem|line-height:1.25em|[[Lysippus]]}}", "sculptor", [("entity", "Lysippus")]),
    ("{{nowrap|North Atlantic: 5 km}}", "depth", [("string", "North Atlantic: 5 km")]),
    # set 5, a placeholder word left in is no value (Aruba's `established_event1 = Date`);
    # under a name or title key it may be a work's title
    ("Date", "established_event1", []),
    ("Name", "name", [("string", "Name")]),
    # set 5, an estimate's word before an amount (Angolan Armed Forces' budget) leaves the
    # amount; a bare circa year stays text
    ("est. 4.784 billion USD", "amount", [("quantity", "4784000000")]),
    ("approx. 300 km", "length", [("quantity", "300")]),
    ("c. 1450", "founded", [("string", "c. 1450")]),
    # set 5, misleading pipes: a demonym behind a pipe to a page on something else is the
    # word (Aruba, Afghanistan); a page named by the word is the people's
    ("[[Culture of Aruba|Aruban]]", "demonym", [("string", "Aruban")]),
    ("[[Demography of Afghanistan|Afghan]]", "demonym", [("string", "Afghan")]),
    ("[[Asian people|Asian]]", "demonym", [("entity", "Asian people")]),
    # set 5, part of the value dropped: a taxon authority's parenthesised basionym author is
    # part of it (Ingoldiomyces); a parenthesised authority alone keeps its author's page
    ("([[George Edward Massee|Massee]]) Vánky", "type_species_authority",
     [("string", "(Massee) Vánky")]),
    ("([[Peter Simon Pallas|Pallas]], 1766)", "binomial_authority",
     [("entity", "Peter Simon Pallas")]),
    ("Jane Doe ([[Chairman]])", "key_people", [("string", "Jane Doe")]),
    # set 5, links of a phrase: a time standard before an offset is part of it, the offset's
    # link the zone's standard time (Alaska, Alberta); a link after a lowercase prefix and
    # hyphen is part of a compound word (Aristotle's influence on pre-Enlightenment science)
    ("[[Alaska Time Zone|Alaska]]: [[Coordinated Universal Time|UTC]] [[Alaska Standard "
     "Time|-9]]/[[Alaska Daylight Time|-8]]", "TimeZone",
     [("entity", "Alaska Time Zone"), ("entity", "Alaska Standard Time"),
      ("entity", "Alaska Daylight Time")]),
    ("[[Mountain Time Zone|Mountain]]: [[Coordinated Universal Time|UTC]]-7", "TimeZone",
     [("entity", "Mountain Time Zone")]),
    ("[[Koordinierte Weltzeit|UTC]]+1", "time_zone", [("string", "UTC+1")]),
    ("[[Coordinated Universal Time|UTC]] ({{age|2019}})", "time_zone",
     [("entity", "Coordinated Universal Time")]),
    ("pre-[[Age of Enlightenment|Enlightenment]] science", "influenced",
     [("string", "pre-Enlightenment science")]),
    ("{{longitem|Virtually all subsequent [[Western philosophy]], [[Christian philosophy]] and "
     "pre-[[Age of Enlightenment|Enlightenment]] science; also much [[Islamic "
     "philosophy|Islamic]] and [[Jewish philosophy]] (see [[List of writers influenced by "
     "Aristotle]])}}", "influenced",
     [("entity", "Western philosophy"), ("entity", "Christian philosophy"),
      ("entity", "Islamic philosophy"), ("entity", "Jewish philosophy")]),
    ("[[Austria]]-[[Hungary]]", "country", [("entity", "Austria"), ("entity", "Hungary")]),
    # set 6, layout switches: a bare yes/no shows or hides a part of the box (Andre Agassi's
    # tournament headings, his medal list expanded); a journal's open access is a fact; a
    # hemisphere letter is no switch
    ("Yes", "Othertournaments", []),
    ("yes", "medaltemplates-expand", []),
    ("true", "koordinatoj_ne_en_titolo", []),
    ("Yes", "openaccess", [("string", "Yes")]),
    ("N", "latNS", [("string", "N")]),
    # set 6, captions: a caption glued to its file word (Aikido's `imagecaption`)
    ('A version of the "four-direction throw" (\'\'shihōnage\'\')', "imagecaption", []),
    # set 6, a place after a linked institution locates it (Alain Connes); an unlinked
    # institution stays an item, and countries stay a list
    ("[[IHÉS]], France", "work_institutions", [("entity", "IHÉS")]),
    ("[[École Normale Supérieure]], France", "alma_mater", [("entity", "École Normale Supérieure")]),
    ("[[Harvard University]], Yale University", "institutions",
     [("entity", "Harvard University"), ("string", "Yale University")]),
    ("[[France]], Germany", "countries", [("entity", "France"), ("string", "Germany")]),
    # set 6, value templates: a work's source (Actrius), a long fossil range (Algae)
    ("{{based on|(stage play) ''E.R.''|Josep Maria Benet i Jornet}}", "based on",
     [("string", "E.R."), ("string", "Josep Maria Benet i Jornet")]),
    ("{{based on|''[[Ranma ½]]''|[[Rumiko Takahashi]]}}", "based_on",
     [("entity", "Ranma ½"), ("entity", "Rumiko Takahashi")]),
    ("{{long fossil range|Mesoproterozoic|present|ref=}}", "fossil_range",
     [("string", "Mesoproterozoic – present")]),
    # set 6, one each: a language's label before a name (Actrius), an award named by a link
    # and words (Alain Connes), a year a tennis player turned pro (Andre Agassi), a list
    # page's title as the page a box links (Asia; a work's episode list is its own), an
    # unclosed <center> (Afghanistan's anthem)
    ("([[Catalan language|Catalan]]: '''''Actrius''''')", "film name", [("string", "Actrius")]),
    ("[[CNRS]] Silver Medal (1977)<br/> [[Prize Ampère]] (1980)", "prizes",
     [("string", "CNRS Silver Medal"), ("entity", "Prize Ampère")]),
    ("1986", "turnedpro", [("date", "1986")]),
    ("List of sovereign states and dependent territories in Asia", "list_countries", []),
    ("List of The Ren & Stimpy Show episodes", "list_episodes",
     [("string", "List of The Ren & Stimpy Show episodes")]),
    ("{{transl|ur|ALA-LC|''[[Afghan National Anthem|Millī Surūd]]''}}<br/><center><small>\"The "
     "National Anthem\"</small>", "national_anthem", [("entity", "Afghan National Anthem")]),
    # set 7 (Apollo 8, Apollo 11): {{start-date}} shows its date as written, a time of day
    # and the time standard after it kept as text like the box's other date-times; a date
    # alone is a date
    ("{{start-date|December 21, 1968, 12:51:00|timezone=yes}}&nbsp;UTC", "launch_date",
     [("string", "December 21, 1968, 12:51:00 UTC")]),
    ("{{end-date|July 24, 1969, 16:50:35|timezone=yes}}&nbsp;UTC<ref>{{cite web|title=A}}</ref>",
     "landing_date", [("string", "July 24, 1969, 16:50:35 UTC")]),
    ("{{start-date|July 16, 1969}}", "launch_date", [("date", "1969-07-16")]),
    # set 7, ship templates are the ship's page: prefix, name, hull number or year
    ("{{USS|Yorktown|CV-10|6}}", "recovery_by", [("entity", "USS Yorktown (CV-10)")]),
    ("{{HMS|Exeter|68|6}}", "ships", [("entity", "HMS Exeter (68)")]),
    ("{{SS|Pedernales}}", "ship", [("entity", "SS Pedernales")]),
    ("{{ship|HMS|Dreadnought|1906}}", "ship", [("entity", "HMS Dreadnought (1906)")]),
    # set 7, layout: the spaceflight box's apsis wording; angles are quantities, in words
    # or by their symbol
    ("selene", "apsis", []),
    ("12&nbsp;degrees", "orbit_inclination", [("quantity", "12")]),
    ("1.25&nbsp;degrees", "orbit_inclination", [("quantity", "1.25")]),
    ("51.64°", "orbit_inclination", [("quantity", "51.64")]),
])
def test_infobox_values(raw, key, expected):
    assert [(v.kind, v.value) for v in parse_value(raw, key, TITLES, "en")] == expected


@pytest.mark.parametrize("raw, key, lang, expected", [
    # decimal commas, spaces between thousands, scale words and currencies after the number
    ("{{augmentation}}0,922", "idh", "fr", [("decimal", "0.922", None)]),
    ("1,7 %", "pourcentage_eau", "fr", [("quantity", "1.7", "%")]),
    ("3 748 148", "population", "fr", [("integer", "3748148", None)]),
    ("1.234.567", "einwohner", "de", [("integer", "1234567", None)]),
    ("1,234,567", "population", "en", [("integer", "1234567", None)]),
    ("{{augmentation}} {{formatnum:461.432}} milliards de [[Dollar américain|$]]", "pib_ppa",
     "fr", [("quantity", "461432000000", "USD")]),
    ("{{augmentation}} {{unité|307,665 milliards}} d'[[Euro|€]]<br />+ 0,34 %", "pibv", "fr",
     [("quantity", "307665000000", "EUR")]),
    ("'''Nominale :'''<br />{{augmentation négative}} {{unité|285,544 milliards}} d'[[Euro|€]]"
     "<br />+ 9 %", "dette", "fr", [("quantity", "285544000000", "EUR")]),
    # other languages' date keys, ordinals and codes
    ("2020", "population_année", "fr", [("date", "2020", None)]),
    ("{{1er}} janvier 2019", "année_pop", "fr", [("date", "2019-01-01", None)]),
    ("{{43e}}", "pib_rang", "fr", [("string", "43e", None)]),
    ("43", "indicatif_téléphonique", "fr", [("string", "43", None)]),
    ("''{{Lang|de|Land Berlin}}''", "nom_allemand", "fr", [("string", "Land Berlin", None)]),
    ("Pas de devise officielle", "devise", "fr", []),
    # frwiki's country and century templates (Antoine Meillet), its interlanguage link
    ("{{France}}", "nationalité", "fr", [("entity", "France", None)]),
    ("{{États-Unis}}, {{Royaume-Uni}}", "pays", "fr",
     [("entity", "États-Unis", None), ("entity", "Royaume-Uni", None)]),
    ("{{s|XX}}", "époque", "fr", [("string", "XXe siècle", None)]),
    ("{{s|I}}", "époque", "fr", [("string", "Ier siècle", None)]),
    ("{{-s|V}}", "époque", "fr", [("string", "Ve siècle av. J.-C.", None)]),
    ("{{Lien|fr=Paul Kretschmer|lang=de|texte=Kretschmer}}", "maîtres", "fr",
     [("entity", "Paul Kretschmer", None)]),
    # fresh set 3 of the hand audit (vi and kk Berlin): a Vietnamese date, a rank behind a
    # link to a list page, Kazakh year keys, {{lang-xx}}
    ("31 tháng 12 năm 2019", "population_as_of", "vi", [("date", "2019-12-31", None)]),
    ("0.950<br/>{{color|green|rất cao}} · [[Danh sách các bang của Đức theo Chỉ số Phát triển "
     "Con người|4 trên 16]]", "blank2_info_sec2", "vi",
     [("decimal", "0.95", None), ("string", "4 trên 16", None)]),
    ("1237", "құрылған_уақыты", "kk", [("date", "1237", None)]),
    ("2018", "санақ_жылы", "kk", [("date", "2018", None)]),
    ("{{lang-de|Berlin}}", "шынайы_атауы", "kk", [("string", "Berlin", None)]),
    # sets 1-3, the classes left: vi scale words and euros (a three-digit group after a comma
    # or dot is ambiguous in vi, which writes both conventions), a year by its word, kk map
    # sizes and Commons category, a date in parentheses qualifies the text before it
    ("153 tỷ euro (2019)", "blank_info_sec1", "vi", [("quantity", "153000000000", "EUR")]),
    ("42,000 euro (2019)", "blank1_info_sec1", "vi", [("string", "42,000 euro (2019)", None)]),
    ("891.7", "area_total_km2", "vi", [("decimal", "891.7", None)]),
    ("1170 жыл", "алғашқы_дерек", "kk", [("date", "1170", None)]),
    ("1170 год", "первое_упоминание", "ru", [("date", "1170", None)]),
    ("200", "ел_картасының_өлшемi", "kk", []),
    ("Berlin", "ортаққордағы_санаты", "kk", []),
    ("Adoption de la loi sur la [[neutralité autrichienne]] ({{date-|1955}})", "fête_evt", "fr",
     [("string", "Adoption de la loi sur la neutralité autrichienne", None)]),
    # set 4 (ru Берлин): {{число}} is its number, with its unit word if any
    ("{{число|3644826}}", "население", "ru", [("integer", "3644826", None)]),
    ("{{число|6177535|чел.}}", "население_агломерации", "ru", [("quantity", "6177535", "people")]),
    # set 4 (ru Берлин): captions of the arms and flag, the height row's label, map sizes are
    # no facts; the height itself is
    ("Герб Берлина", "описание_герба", "ru", []),
    ("Флаг Берлина", "описание_флага", "ru", []),
    ("высота НУМ", "вид_высоты", "ru", []),
    ("200", "карта_страны", "ru", []),
    ("0", "карта_региона", "ru", []),
    ("34", "высота_центра_нп", "ru", [("integer", "34", None)]),
    # set 4: mg writes a decimal comma (mg Berlin's area); ru groups thousands with spaces
    # before a unit word, and writes its month names in the genitive after a day
    ("891,85", "velarantany", "mg", [("decimal", "891.85", None)]),
    ("3292365", "isam-ponina", "mg", [("integer", "3292365", None)]),
    ("6 177 535 чел", "население_агломерации", "ru", [("quantity", "6177535", "people")]),
    ("31 декабря 2018", "год_переписи", "ru", [("date", "2018-12-31", None)]),
    ("май 1945", "дата", "ru", [("date", "1945-05", None)]),
    ("9 травня 1945", "дата", "uk", [("date", "1945-05-09", None)]),
    # set 4: a dialling code whose prefix is linked is the whole code (ru Берлин)
    ("[[+49]] 30", "телефонный_код", "ru", [("string", "+49 30", None)]),
    # sets 3 and 4: a link's target and text written with {{!}} for a template that links
    # them (ru {{НП}}'s and kk's region kind)
    ("Земли Германии{{!}}Земля", "вид_региона", "ru", [("entity", "Земли Германии", None)]),
    ("Германия жерлері{{!}}Жері", "аймақ_түрі", "kk", [("entity", "Германия жерлері", None)]),
    ("[[Земли Германии{{!}}Земля]]", "вид_региона", "ru", [("entity", "Земли Германии", None)]),
    # set 5: a map's caption is no fact (sco Berlin)
    ("Location within [[European Union]] an Germany", "map_text", "sco", []),
    ("ca. 4,784 Mrd. €", "haushalt", "de", [("quantity", "4784000000", "EUR")]),
    # set 5, a stray link beats the value: a number of things linked to the page about them
    # is the count (sco Berlin's boroughs); a name behind the pipe stays the page
    ("12 [[Boroughs an localities o Berlin|boroughs]]", "divisions", "sco",
     [("string", "12 boroughs", None)]),
    ("[[Adjectivals and demonyms for U.S. states|Alabaman]] or [[Adjectivals and demonyms for "
     "U.S. states|Alabamian]]", "Demonym", "en", [("string", "Alabaman or Alabamian", None)]),
    ("[[Autrichiens|Autrichien]]", "gentilé", "fr", [("entity", "Autrichiens", None)]),
    # set 5, labels as values: a link between colons labels the value after it (nds Berlin)
    (":[[Bundsland (Düütschland)|Bundsland]]: Berlin :[[Landkreis]]: [[Kreisfree Stadt]]",
     "liggt_in", "nds", [("string", "Berlin", None), ("entity", "Kreisfree Stadt", None)]),
    ("[[Mad Max: Fury Road]]", "film", "en", [("entity", "Mad Max: Fury Road", None)]),
    ("2 [[Academy Awards|Oscars]]", "awards", "en", [("entity", "Academy Awards", None)]),
    # set 6, layout: tr pushpin map keys (which map, its label's position, its size), a ku
    # location map; captions of tr maps (`açıklaması`)
    ("Germany", "raptiye_harita", "tr", []),
    ("Berlin", "raptiye_etiket_konum", "tr", []),
    ("270", "raptiye_harita_boyutu", "tr", []),
    ("Almanya", "nexşeya_cihan", "ku", []),
    ("Berlin'in [[Almanya]]'daki konumu", "raptiye_harita_açıklaması", "tr", []),
    ("Berlin eyaleti'nin sınırları", "harita_açıklaması", "tr", []),
    ("evet", "gizle", "tr", []),
    # set 6, numbers: ku writes dots between thousands and a decimal comma (ku Berlîn); a
    # dotted date, day first, is a date in any language (tr Berlin's census date); a
    # coordinate's minute keeps no code's leading zero (Afghanistan's `longm = 08`); a
    # unit's power in a superscript makes a density (Asia's)
    ("891,85", "rûerd", "ku", [("decimal", "891.85", None)]),
    ("3.501.872", "gelhe", "ku", [("integer", "3501872", None)]),
    ("3.927", "berbelavî", "ku", [("integer", "3927", None)]),
    ("31.12.2018", "nüfus_as_of", "tr", [("date", "2018-12-31", None)]),
    ("31.12.2015", "godina_popisa", "hr", [("date", "2015-12-31", None)]),
    ("08", "longm", "en", [("integer", "8", None)]),
    ("013", "longd", "fi", [("integer", "13", None)]),
    ("87/km<sup>2</sup> (225/sq mi)", "density", "en", [("quantity", "87", "/km2")]),
    ("891 km<sup>2</sup>", "area", "en", [("quantity", "891", "km2")]),
    # set 6, links as notes: a list's name as a link's text, a heading of a list's topic
    # and scope (Asia's languages and cities) point to the list; tr names a list page
    # `… listesi`, whose link's text is the value (tr Berlin's `[[Ülkeler listesi|Ülke]]`,
    # as en's `[[List of sovereign states|Country]]`); a list named without a scope is the
    # content itself (Ranma ½'s related media)
    ("[[Languages of Asia|List of languages]]", "languages", "en", []),
    ("[[List of metropolitan areas in Asia|Major urban areas in Asia]]<br>[[List of cities "
     "in Asia]]", "cities", "en", []),
    ("[[Ülkeler listesi|Ülke]]", "altbölüm_türü", "tr", [("string", "Ülke", None)]),
    ("[[List of Presidents of the United States|President of the United States]]", "office",
     "en", [("string", "President of the United States", None)]),
    ("[[List of Ranma ½ video games|''Ranma ½'' video games]]", "content", "en",
     [("string", "Ranma ½ video games", None)]),
    # set 6, a stray link beats the value: an offset before a note's link is the offset
    # (Afghanistan); tr counts with a singular noun whose page names it in the plural
    # (tr Berlin's 12 districts, as sco Berlin's in set 5)
    ("+4:30 [[Solar Hijri calendar|Solar Calendar]]", "utc_offset", "en",
     [("string", "+4:30", None)]),
    ("12 [[Berlin'in ilçeleri|ilçe]]", "parts", "tr", [("string", "12 ilçe", None)]),
    ("12 [[Berlin'in ilçeleri|Berlin]]", "parts", "tr", [("entity", "Berlin'in ilçeleri", None)]),
    # set 6: {{coord}} under ku's name (ku Berlîn)
    ("{{Koord|52|31|0|N|13|24|0|E|display=inline, title}}", "koordînat", "ku",
     [("point", "POINT(13.4 52.516667)", None)]),
    # set 7: Norwegian and Danish dates, a day with its dot then the month's name (no
    # Berlin); a coat of arms' image size is layout (te Berlin, as tr's map size)
    ("31. desember 2017", "befolkningsår", "no", [("date", "2017-12-31", None)]),
    ("1. januar 2001", "grunnlagt", "nn", [("date", "2001-01-01", None)]),
    ("31. marts 2019", "indbyggertal_år", "da", [("date", "2019-03-31", None)]),
    ("70", "coa_size", "te", []),
    ("12&nbsp;degrees", "orbit_inclination", "en", [("quantity", "12", "deg")]),
])
def test_infobox_values_of_other_languages(raw, key, lang, expected):
    assert [(v.kind, v.value, v.unit) for v in parse_value(raw, key, TITLES, lang)] == expected


def test_a_width_beside_a_length_or_in_a_second_unit_is_the_subjects():
    """Set 5: {{Infobox U.S. state}}'s `Width = 305` beside `WidthUS = 190` and `Length` is
    Alabama's width; an image's `width = 220` beside its `image` stays layout."""
    state = frozenset({"width", "widthus", "length", "lengthus", "flag"})
    assert [(v.kind, v.value) for v in parse_value("305", "width", TITLES, "en", state)] == \
        [("integer", "305")]
    image = frozenset({"image", "width", "caption"})
    assert parse_value("220", "width", TITLES, "en", image) == []


def test_embedded_infoboxes_give_their_facts():
    """A politician's earlier offices in an ``{{Infobox officeholder|embed=yes}}`` inside a
    parameter of the main one (Angela Merkel's offices 5 to 8 were lost)."""
    from extraction.infobox import infobox_facts

    text = ("{{Infobox officeholder\n| office4 = [[Bundestag]]\n| successor4 = [[Volker Kauder]] "
            "{{Collapsed infobox section begin |last=yes |Early politics}}{{Infobox officeholder "
            "|embed=yes\n| office5 = [[Federal Minister for Women and Youth]]\n| term_start5 = "
            "18 January 1991\n| successor5 = [[Claudia Nolte]]{{Collapsed infobox section end}}}}"
            "\n| birth_date = {{birth date and age|1954|7|17}}\n}}")
    _, facts = infobox_facts("Angela Merkel", 1, text, TITLES, "en")
    assert [(f.property, f.value.value) for f in facts] == [
        ("office", "Bundestag"), ("successor", "Volker Kauder"), ("birth_date", "1954-07-17"),
        ("office", "Federal Minister for Women and Youth"), ("term_start", "1991-01-18"),
        ("successor", "Claudia Nolte")]


def test_a_box_heading_is_no_fact_where_the_same_key_elsewhere_is():
    """{{Infobox animanga/Other}}'s ``title`` is the heading of the box (Ranma ½: ``Related
    media``), while {{Infobox animanga/Video}}'s is the title of the series or film."""
    from extraction.infobox import infobox_facts

    text = ("{{Infobox animanga/Video\n| type = tv series\n| title = Ranma ½ Nettōhen\n}}\n"
            "{{Infobox animanga/Other\n| title   = Related media\n| content = *[[List of Ranma ½ "
            "episodes#Specials (1990–2011)|''Ranma ½'' specials]]\n}}")
    _, facts = infobox_facts("Ranma ½", 1, text, TITLES, "en")
    assert [(f.infobox, f.value.value) for f in facts if f.property == "title"] == [
        ("infobox animanga/video", "Ranma ½ Nettōhen")]


def test_largest_city_capital_is_the_capital():
    """{{Infobox country}}'s ``largest_city = capital`` says the capital is the largest city
    (Algeria): the capital's value, not the word."""
    from extraction.infobox import infobox_facts

    text = "{{Infobox country\n| capital = [[Algiers]]\n| largest_city = capital\n}}"
    _, facts = infobox_facts("Algeria", 1, text, TITLES, "en")
    assert [(f.property, f.value.value) for f in facts] == [
        ("capital", "Algiers"), ("largest_city", "Algiers")]


def test_an_infobox_further_down_about_someone_else_is_not_the_subjects():
    """Marian Breland Bailey's page: her husband's ``{{Infobox person}}`` in the section
    about their work gave her a second birth date and place; a lead without an infobox
    leaves the body's first one to the article."""
    from extraction.infobox import find_infoboxes, infobox_facts

    own = ("{{Infobox person\n|name=Marian Breland Bailey\n|birth_date={{Birth date|mf=yes|"
           "1920|12|2}}\n|birth_place=[[Minneapolis]], [[Minnesota]], United States\n}}\n\n"
           "'''Marian Breland Bailey''' was an American psychologist.\n\n")
    husband = ("== Work with Keller Breland ==\n{{Infobox person\n|name=Keller Breland\n"
               "|birth_date={{Birth date|1915|3|26|mf=y}}\n|birth_place=[[Poplarville, "
               "Mississippi]]}}\nAfter Bailey earned her bachelor's degree, she married him.\n")
    _, facts = infobox_facts("Marian Breland Bailey", 1, own + husband, TITLES, "en")
    assert [(f.property, f.value.value) for f in facts] == [
        ("name", "Marian Breland Bailey"), ("birth_date", "1920-12-02"),
        ("birth_place", "Minneapolis"), ("birth_place", "Minnesota")]
    assert [name for name, _ in find_infoboxes("Intro.\n\n" + husband + husband)] == \
        ["infobox person"]


@pytest.mark.parametrize("raw, key", [
    ("Birth_Date", "birth_date"), (" Official Name ", "official_name"),
    ("population_total", "population_total"), ("Leader name1", "leader_name"),
    ("spouse2", "spouse"), ("area_total_km2", "area_total_km2"),
    ("area_water_sq_mi2", "area_water_sq_mi2"), ("pole_rider_125", "pole_rider_125"),
    ("vice_president_2", "vice_president"),
])
def test_infobox_keys(raw, key):
    assert normalize_key(raw) == key


def test_numbered_name_title_pairs_keep_their_index():
    """``leader_title1 = Mayor | leader_name1 = A | leader_title2 = Governor | …``: merged
    into ``leader_name``/``leader_title`` the pairs could no longer be told apart."""
    from extraction.infobox import infobox_facts

    text = ("{{Infobox settlement\n| name = Town\n| leader_title1 = [[Mayor]]\n"
            "| leader_name1 = [[Ann Smith]]\n| leader_title2 = [[Governor]]\n"
            "| leader_name2 = [[Bob Jones]]\n| spouse1 = [[Carol]]\n}}")
    _, facts = infobox_facts("Town", 1, text, TITLES, "en")
    keys = {(f.property, f.value.value) for f in facts}
    assert {("leader_title1", "Mayor"), ("leader_name1", "Ann Smith"),
            ("leader_title2", "Governor"), ("leader_name2", "Bob Jones"),
            ("spouse", "Carol")} <= keys


def test_files_under_a_local_namespace_name_are_files():
    """DBpedia's minidumps carry English siteinfo: ``Slika:`` (sl) is no namespace there,
    but a media file name makes the link a file, never an entity."""
    assert TITLES.parse("Slika:Flag of Germany.svg") == (6, "File:Flag of Germany.svg")
    assert TITLES.article("Slika:Flag of Germany.svg") is None
    assert TITLES.article("Star Wars: Episode IV") == "Star Wars: Episode IV"


@pytest.mark.parametrize("title, article", [
    ("foo_bar#History", "Foo bar"), ("  washington,_D.C. ", "Washington, D.C."),
    ("Star Wars: A New Hope", "Star Wars: A New Hope"), ("ångström", "Ångström"),
])
def test_titles(title, article):
    assert TITLES.article(title) == article


@pytest.mark.parametrize("title, base", [
    ("Mercury (planet)", "Mercury"), ("Alien (film)", "Alien"), ("Paris, Texas", "Paris, Texas"),
])
def test_disambiguators(title, base):
    assert strip_disambiguator(title) == base


@pytest.mark.parametrize("wikitext, text, anchors, bold", [
    ("'''Albedo''' ({{IPAc-en|æ|l|ˈ|b|iː|d|oʊ}}; {{lang-la|albedo}}, meaning 'whiteness') is "
     "the measure of the [[diffuse reflection]] of [[solar radiation]].",
     "Albedo (albedo, meaning 'whiteness') is the measure of the diffuse reflection of solar "
     "radiation.",
     [("diffuse reflection", "Diffuse reflection"), ("solar radiation", "Solar radiation")],
     ["Albedo"]),
    ("The '''[[Academy Awards]]''', also known as the '''Oscars''',<ref name=a>x</ref> are awards.",
     "The Academy Awards, also known as the Oscars, are awards.",
     [("Academy Awards", "Academy Awards")], ["Academy Awards", "Oscars"]),
    ("In [[1969]], ''[[Apollo 11]]'' landed.{{efn|note}} It returned.",
     "In 1969, Apollo 11 landed. It returned.", [("1969", "1969"), ("Apollo 11", "Apollo 11")], []),
    ("It is {{convert|5|km|mi}} long{{citation needed}} and {{lang|fr|très}} {{nowrap|old [[town]]}}.",
     "It is 5 km long and très old town.", [("town", "Town")], []),
    ("[[File:X.png|thumb|a [[Y]] caption]] See [[:Category:Foo|foo cats]].",
     "See foo cats.", [], []),
])
def test_leads(wikitext, text, anchors, bold):
    clean = clean_page(wikitext, TITLES)
    assert clean.text == text
    assert [(clean.text[a.start:a.end], a.target) for a in clean.anchors] == anchors
    assert clean.bold_names == bold


@pytest.mark.parametrize("title, wikitext, expected", [
    ("Mercury", "'''Mercury''' may refer to:\n{{disambiguation}}", True),
    ("Mercury (disambiguation)", "* [[Mercury (planet)]]", True),
    ("Smith", "'''Smith''' is a surname.\n{{surname}}", True),
    ("Mercury (planet)", "'''Mercury''' is the smallest planet.", False),
])
def test_disambiguation_pages(title, wikitext, expected):
    assert is_disambiguation(title, wikitext) is expected


def test_sentences_span_single_newlines_and_skip_lists_and_debris():
    """A single newline inside a paragraph is a space in MediaWiki; list items and gallery
    or table debris are not sentences."""
    from extraction.page import ExtractionConfig, extract_page
    from extraction.records import Page

    text = ("'''Ulm''' is a city in [[Baden-Württemberg]], on the river\n[[Danube]]. It has "
            "a tall church.\n\nThe city was founded in the\nMiddle Ages by traders.\n"
            "* [[Albert Einstein]] was born in the city in 1879.\n"
            "Bild.jpg|Das Münster|thumb|upright\n")
    result = extract_page(Page(1, "Ulm", 0, text), ExtractionConfig())
    texts = [s.text for s in result.sentences]
    assert texts == ["Ulm is a city in Baden-Württemberg, on the river Danube.",
                     "It has a tall church.",
                     "The city was founded in the Middle Ages by traders."]
    assert [m.title for m in result.sentences[0].mentions if m.source == "wikilink"] == \
        ["Baden-Württemberg", "Danube"]


def test_an_anchor_is_reused_only_for_its_own_name_or_a_repeated_link():
    """One ``[[Sport in France|France]]`` must not make every later "France" a mention of
    Sport in France; a target's own name, or a text the page links twice to it, is reused."""
    from extraction.page import ExtractionConfig, extract_page
    from extraction.records import Page

    text = ("'''Lyon''' hosts [[Sport in France|France]] events and lies on the [[Rhône]] "
            "near [[Barack Obama|Obama]] Street. [[Barack Obama|Obama]] visited twice.\n\n"
            "Later, France grew and the Rhône flooded while Obama spoke there at length.\n")
    result = extract_page(Page(1, "Lyon", 0, text), ExtractionConfig())
    later = next(s for s in result.sentences if s.text.startswith("Later"))
    assert {(m.surface, m.title) for m in later.mentions if m.source == "alias"} == {
        ("Rhône", "Rhône"), ("Obama", "Barack Obama")}


def test_an_anchor_to_a_language_is_reused_only_where_the_word_names_the_language():
    """Azerbaijan links "Armenian" to the language three times, but "Armenian villages"
    are not the language's (the mention audit of docs/benchmarks.md)."""
    from extraction.page import ExtractionConfig, extract_page
    from extraction.records import Page

    text = ("'''Azerbaijan''' has radio broadcasts in Russian, [[Armenian language|Armenian]] "
            "and [[Georgian language|Georgian]]. Minorities speak [[Armenian language|Armenian]]"
            " and [[Avar language|Avar]]. Some schools teach [[Armenian language|Armenian]].\n\n"
            "A recent attack on Armenian villages caused damage. Newspapers appear in Armenian."
            "\n")
    result = extract_page(Page(1, "Azerbaijan", 0, text), ExtractionConfig())
    aliases = {s.text[:8]: [(m.surface, m.title) for m in s.mentions if m.source == "alias"]
               for s in result.sentences}
    assert aliases["A recent"] == []
    assert aliases["Newspape"] == [("Armenian", "Armenian language")]


@pytest.mark.parametrize("sentence, word, language", [
    ("In addition to being the first female German chancellor, Merkel is", "German", False),
    ("Under the pretext of a slight to their consul, the French invaded Algiers.", "French",
     False),
    ("Albert Einstein was a German-born theoretical physicist.", "German", False),
    ("the degree to which Muslim immigrants have integrated into German society.", "German",
     False),
    ("there was Republican support that a German-language paper could mobilize.", "German",
     True),
    ("Able to read French, German and Russian, Rand also discovered", "German", True),
    ("60% of households could speak and understand French or Arabic.", "French", True),
    ("the universal literary heritage in Arabic and French.", "French", True),
    ("The term alternativlos (German for \"without an alternative\"), which", "German", True),
    ("Berlin (German: Land Berlin) is the capital", "German", True),
])
def test_a_nationality_word_reads_as_a_language_only_in_a_language_context(sentence, word,
                                                                          language):
    from extraction.sentences import reads_as_language

    start = sentence.index(word)
    assert reads_as_language(sentence, start, start + len(word)) is language


def test_ner_links_skip_list_pages_and_languages_that_are_nationalities():
    """The alias table's clear winner of "German" is *German language* (five anchors to one
    each elsewhere) and of "African American" a list page (one anchor): neither is what
    these sentences of Angela Merkel and Alabama name; "German-language" is the language."""
    from extraction.resolve import PartLookups, rewrite_sentence

    lookups = PartLookups(links={"German": "German language", "Alabama": "Alabama",
                                 "African American": "List of African American United "
                                                     "States Cabinet Secretaries"})

    def linked(text: str, surface: str, label: str) -> str | None:
        start = text.index(surface)
        mention = {"start": start, "end": start + len(surface), "surface": surface,
                   "title": None, "source": "ner", "label": label}
        record = {"id": "1:0", "page": "P", "page_id": 1, "text": text, "mentions": [mention]}
        return next(rewrite_sentence(record, lookups))["mentions"][0]["title"]

    assert linked("She was the first female German chancellor.", "German", "NORP") is None
    assert linked("It bought a German-language paper in 1859.", "German", "NORP") == \
        "German language"
    assert linked("Pupils learn English and German at school.", "German", "LANGUAGE") == \
        "German language"
    assert linked("Laws disenfranchised African American residents of Alabama.",
                  "African American", "NORP") is None
    assert linked("Laws disenfranchised African American residents of Alabama.",
                  "Alabama", "GPE") == "Alabama"


def test_infoboxes_drawn_as_tables_give_their_rows():
    """The lead's right-floated table of wikis whose city articles predate infobox templates
    (the fo minidump's Berlin, abridged): label/value rows are facts; header rows, file rows
    and files under a local namespace name that the siteinfo lacks (``Mynd:``) are not."""
    from extraction.infobox import TABLE_INFOBOX, infobox_facts

    text = ('{| border="1" cellpadding="2" cellspacing="0" align="right"\n|-----\n'
            '! colspan="2" align=center bgcolor="#ff9999" | Berlin\n|-----\n'
            '! align=center | Skjøldur\n! align=center | Kort\n|- bgcolor="#FFFFFF"\n'
            '| [[Mynd:Coat of arms of Berlin.svg|110px|Skjøldur hjá Berlin.]]\n'
            '| [[Mynd:Germany Laender Berlin.png|100px|Kort av Týsklandi.]]\n|-----\n'
            '| [[Íbúgvar]] (2013): || 3415091 <br />\n|-----\n'
            '| Borgarstjóri: || [[Mynd:Flag of Germany.svg|20px]] [[Michael Müller]]\n|}\n'
            "'''Berlin''' er høvuðsstaður í [[Týskland]]i.\n== Søga ==\n")
    names, facts = infobox_facts("Berlin", 1, text, TITLES, "fo")
    assert names == [] and {f.infobox for f in facts} == {TABLE_INFOBOX}  # no class "table"
    assert [(f.raw_property, f.value.value) for f in facts] == [
        ("Íbúgvar (2013)", "3415091"), ("Borgarstjóri", "Michael Müller")]


def test_infobox_named_so_in_another_language_needs_one_parameter():
    """``{{hiri infotaula | izena = Berlin}}`` (eu): "infobox" in the name, one parameter."""
    from extraction.infobox import infobox_facts

    names, facts = infobox_facts("Berlin", 1, "{{Wikipedia1000}} {{hiri infotaula | izena = "
                                 "Berlin }} '''Berlin''' Alemaniako hiriburua da.", TITLES, "eu")
    assert names == ["hiri infotaula"] and [f.value.value for f in facts] == ["Berlin"]
