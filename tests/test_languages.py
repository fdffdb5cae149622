"""Every language, not only English (#16, item 11): infoboxes, sentences and namespaces of
other wikis, on wikitext shaped as the DBpedia minidumps' Berlin articles write it."""

from __future__ import annotations

import pytest

from extraction.infobox import infobox_facts
from extraction.page import ExtractionConfig, extract_page
from extraction.records import Page, SiteInfo
from extraction.sentences import RuleSplitter
from extraction.titles import TitleNormalizer

TITLES = TitleNormalizer(SiteInfo(namespaces={6: "File", 14: "Category", 10: "Template"}))


def _facts(text: str, lang: str = "xx") -> tuple[list[str], list[tuple[str, str]]]:
    names, facts = infobox_facts("Berlin", 1, text, TITLES, lang)
    return names, [(f.property, f.value.value) for f in facts]


def test_a_positional_infobox_gives_the_facts_its_table_names():
    """cv's `{{Хула çинчен}}` has no parameter names: its positions are read from the
    per-wiki table; a file and the positions without a known meaning give nothing."""
    names, facts = _facts("{{Хула çинчен|Берлин|[[Ӳкерчĕк:Coat of arms of Berlin.svg|120px|"
                          "Берлин гербĕ]]|[[Германи]]|Берлин|||3 440|2010|891.85|52°31′ ç.ш.|"
                          " 13°24′ х. т. д.}}\n'''Берлин''', — [[Германи]]н тĕп хули.")
    assert names == ["хула çинчен"]
    assert facts == [("name", "Берлин"), ("country", "Германи"), ("region", "Берлин"),
                     ("population_thousands", "3 440"), ("population_year", "2010"),
                     ("area_km2", "891.85")]


def test_a_left_floated_infobox_table_of_a_right_to_left_wiki_gives_its_rows():
    """pnb's Berlin opens with a table floated left (the far side in a right-to-left wiki):
    its label/value rows are facts; a row of bold labels under the flags is a header, a
    measure with a linked unit is that measure, a website link its URL."""
    text = ('{|table id="toc" style="margin:0;background:#ccccff" align="left" cellpadding="1"\n'
            '| style="width: 145px;" | [[File:Flag of Berlin.svg|120px|center]]\n'
            '| style="width: 145px;" | [[File:Coat of arms of Berlin.svg|100px]]\n|-\n'
            "| style=\"width: 145px;\" | <center>'''جھنڈا'''<center>\n"
            "| style=\"width: 145px;\" | <center>'''نشان'''<center>\n|-\n"
            '| [[دیس]]: || [[جرمنی]] [[File:Flag of Germany.svg|30px]]\n|-\n'
            '| تھاں || 892 مربع [[کلومیٹر]]\n|-\n| لوک گنتی: || 3,440,441 \n|-\n'
            '|ویب سائیٹ: || [http://www.berlin.de/international/index.en.php برلن]\n|}\n'
            "'''برلن''' [[دنیا]] دا اک وڈا شہر اے۔")
    names, facts = _facts(text)
    assert names == []
    assert facts == [("دیس", "جرمنی"), ("تھاں", "892 مربع کلومیٹر"), ("لوک_گنتی", "3440441"),
                     ("ویب_سائیٹ", "http://www.berlin.de/international/index.en.php")]


def test_citations_and_templates_inside_an_infobox_table_are_no_infoboxes():
    """A citation template in a reference of the lead (mk `{{наведена мрежна страница}}`,
    de `{{LuiseBMS}}`) is never an infobox, whatever its name; a template in a row of
    the lead's infobox table (de `{{Sitzverteilung}}`) is part of that table, which then
    gives its rows."""
    cited = ("{{Infobox German state\n| name = Берлин\n| area = 891.85 km2\n}}\n'''Берлин''' "
             "е главен град.<ref>{{наведена мрежна страница |url=http://www.insee.fr/ "
             "|наслов=Population |издавач=INSEE |пристап=2008}}</ref>\n== Историја ==\n")
    names, facts = _facts(cited)
    assert names == ["infobox german state"] and ("url", "http://www.insee.fr/") not in facts
    table = ('{| class="wikitable infobox float-right"\n|-\n! colspan="2" | Land Berlin\n|-\n'
             "| [[Amtssprache]]: || [[Deutsche Sprache|Deutsch]]\n|-\n| Sitzverteilung: || "
             "{{Sitzverteilung|Linke=27|Grüne=27|SPD=38|CDU=31|breite=0.8}}\n|}\n"
             "'''Berlin''' ist die Hauptstadt.<ref>{{LuiseBMS |Autor=Bernhard Meyer |Titel="
             "Berlin |Jahr=2000}}</ref>\n== Geschichte ==\n")
    names, facts = _facts(table, "de")
    assert names == [] and facts == [("amtssprache", "Deutsche Sprache")]


@pytest.mark.parametrize("lang, text, sentences", [
    ("zh", "柏林是德国首都，也是德国最大的城市。现有居民约340万人！它是否是欧洲第二大城市？是的。",
     ["柏林是德国首都，也是德国最大的城市。", "现有居民约340万人！", "它是否是欧洲第二大城市？",
      "是的。"]),
    ("ja", "ベルリンはドイツの首都である。「ベルリンの壁」は1989年に崩壊した。人口は約340万人。",
     ["ベルリンはドイツの首都である。", "「ベルリンの壁」は1989年に崩壊した。", "人口は約340万人。"]),
    ("hi", "बर्लिन जर्मनी की राजधानी है। यह 16 राज्यों में से एक है। यहाँ (1945 ई.) युद्ध हुआ।",
     ["बर्लिन जर्मनी की राजधानी है।", "यह 16 राज्यों में से एक है।", "यहाँ (1945 ई.) युद्ध हुआ।"]),
    ("mr", "बर्लिन ही जर्मनी देशाची राजधानी आहे. इ.स. १७०१ मध्ये ते राजधानीचे शहर बनले.",
     ["बर्लिन ही जर्मनी देशाची राजधानी आहे.", "इ.स. १७०१ मध्ये ते राजधानीचे शहर बनले."]),
    ("ur", "برلن جرمنی کا دارالحکومت ہے۔ یہ شمال مشرقی جرمنی میں واقع ہے۔",
     ["برلن جرمنی کا دارالحکومت ہے۔", "یہ شمال مشرقی جرمنی میں واقع ہے۔"]),
    ("ar", "برلين هي عاصمة ألمانيا. يبلغ عدد سكانها 3.4 مليون نسمة.",
     ["برلين هي عاصمة ألمانيا.", "يبلغ عدد سكانها 3.4 مليون نسمة."]),
    ("he", "ברלין היא בירת גרמניה. אוכלוסיית ברלין מונה כ-3.7 מיליון תושבים.",
     ["ברלין היא בירת גרמניה.", "אוכלוסיית ברלין מונה כ-3.7 מיליון תושבים."]),
    ("hy", "Բեռլին, Գերմանիայի մայրաքաղաքը։ Ունենալով 3,5 միլիոն բնակչություն՝ այն մեծ է։",
     ["Բեռլին, Գերմանիայի մայրաքաղաքը։", "Ունենալով 3,5 միլիոն բնակչություն՝ այն մեծ է։"]),
    ("am", "በርሊን የጀርመን ዋና ከተማ ነው። በርሊን በ1155 ዓ.ም. አካባቢ ተመሠረተ።",
     ["በርሊን የጀርመን ዋና ከተማ ነው።", "በርሊን በ1155 ዓ.ም. አካባቢ ተመሠረተ።"]),
    ("ko", "베를린은 독일의 수도이다. 인구는 약 340만 명이다.",
     ["베를린은 독일의 수도이다.", "인구는 약 340만 명이다."]),
    ("th", "เดือนที่ฝนตกมากที่สุดคือ 578 มม. เดือนที่อุ่นที่สุดคือมิถุนายน",
     ["เดือนที่ฝนตกมากที่สุดคือ 578 มม. เดือนที่อุ่นที่สุดคือมิถุนายน"]),
])
def test_sentences_end_at_each_scripts_stops(lang, text, sentences):
    """Chinese and Japanese 。！？ (no space after), Devanagari dandas, the Urdu, Armenian
    and Ethiopic stops, and `. ` before a letter of a script without capitals (Arabic,
    Hebrew, Devanagari, Hangul); abbreviations of any script (`ई.`, `इ.स.`, `ዓ.ም.`) and
    Thai periods (they end abbreviations: `มม.`) are no boundary."""
    assert [text[a:b] for a, b in RuleSplitter().split(text)] == sentences


def test_gallery_and_file_lines_use_the_wikis_own_namespace_names():
    """ko: `파일:` (File) and `분류:` (Category) are the wiki's names from its siteinfo: a
    file link without a media extension is dropped from the sentence, not rendered as a
    link to an article called `파일:…`; gallery lines are no sentences; the category is
    one.  With English constants only, the first sentence was lost."""
    text = ("[[파일:Berlin Skyline|섬네일|베를린의 풍경]] '''베를린'''은 [[독일]]의 수도이다. "
            "인구는 약 340만 명이다.\n\n<gallery>\n파일:Brandenburger Tor.jpg|섬네일|브란덴부르크 문\n"
            "</gallery>\n파일:Reichstag.jpg|섬네일|국회 의사당\n[[분류:독일의 도시]]\n")
    config = ExtractionConfig(lang="ko", namespaces=((6, "파일"), (14, "분류")))
    result = extract_page(Page(1, "베를린", 0, text), config)
    assert [s.text for s in result.sentences] == ["베를린은 독일의 수도이다.", "인구는 약 340만 명이다."]
    assert result.article.categories == ["독일의 도시"]
    english = extract_page(Page(1, "베를린", 0, text), ExtractionConfig(lang="ko"))
    assert "베를린은 독일의 수도이다." not in [s.text for s in english.sentences]
