"""The catalogs: `python -m templates.i18n check` passes on the repository (so CI fails when a word
is missing, fuzzy or conflicting), and fails, naming msgid and file, on each kind of problem."""

import shutil
import subprocess
import sys

import pytest
from babel.messages.catalog import Catalog

import templates
from templates import i18n, render

PO = "templates/locale/zh_CN/LC_MESSAGES/tandem.po"


def test_the_repository_catalogs_pass_the_check():
    done = subprocess.run([sys.executable, "-m", "templates.i18n", "check"], cwd=i18n.ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "catalogs complete" in done.stdout


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    return i18n.extract()


@pytest.fixture
def locale_dir(tmp_path):
    """A copy of the real catalogs, to break."""
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale", ignore=shutil.ignore_patterns("*.mo"))
    return tmp_path / "locale"


def _edit(locale_dir, change):
    path = i18n.catalog_path("zh_CN", locale_dir)
    catalog = i18n.read_catalog(path, "zh_CN")
    change(catalog)
    i18n._write(path, catalog)
    return path


def test_extraction_finds_templates_and_contexts(extracted):
    digest = extracted.get("and %(count)s more", "digest")
    standup = extracted.get("and %(count)s more", "standup")
    assert digest and ("templates/blocks/digests/list.yaml.j2", 21) in digest.locations
    assert standup and standup.locations == [("templates/blocks/standups/report.yaml.j2", 25)]
    assert extracted.get("and %(count)s more") is None  # no context-free twin left to override them


def test_same_english_different_meaning_keeps_its_own_chinese():
    rows = [{"name": f"d{n}", "channel": "C1", "weekday": 0, "hour": 9, "minute": 0, "timezone": "UTC",
             "metrics": ["DAU"], "paused": False, "cadence": "weekly"} for n in range(203)]
    assert render("digests/list.yaml.j2", language="zh_CN", rows=rows)["blocks"][-1]["elements"][0]["text"] == "另有 3 项"
    assert render("digests/list.yaml.j2", language="en", rows=rows)["blocks"][-1]["elements"][0]["text"] == "and 3 more"
    en = templates._gettext_for("en")
    zh = templates._gettext_for("zh_CN")
    assert en["pgettext"]("standup", "and %(count)s more", count=4) == "and 4 more"
    assert zh["pgettext"]("standup", "and %(count)s more", count=4) == "还有 4 人"
    assert zh["pgettext"]("digest", "and %(count)s more", count=4) == "另有 4 项"


def test_a_missing_translation_fails_naming_msgid_and_use(locale_dir, extracted):
    _edit(locale_dir, lambda c: c.delete("Blockers"))
    problems = i18n.check(locale_dir, extracted)
    assert len(problems) == 1
    assert "missing: msgid 'Blockers'" in problems[0] and "templates/blocks/standups/report.yaml.j2" in problems[0]


def test_fuzzy_and_empty_translations_fail(locale_dir, extracted):
    def change(catalog):
        catalog.get("Blockers").flags.add("fuzzy")
        catalog.get("answered").string = ""
    _edit(locale_dir, change)
    problems = i18n.check(locale_dir, extracted)
    assert any("fuzzy" in p and "msgid 'Blockers'" in p and "tandem.po:" in p for p in problems)
    assert any("untranslated: msgid 'answered'" in p for p in problems)
    assert len(problems) == 2


def test_an_entry_twice_is_a_conflict(locale_dir, extracted):
    path = i18n.catalog_path("zh_CN", locale_dir)
    with path.open("a", encoding="utf-8") as po:  # what a merge of two branches can leave behind
        po.write('\nmsgid "Blockers"\nmsgstr "障碍"\n')
    problems = i18n.check(locale_dir, extracted)
    assert len(problems) == 1 and "conflict: msgid 'Blockers' appears twice" in problems[0], problems


def test_a_lost_placeholder_fails(locale_dir, extracted):
    _edit(locale_dir, lambda c: setattr(c.get("and %(count)s more", "digest"), "string", "另有若干项"))
    problems = i18n.check(locale_dir, extracted)
    assert len(problems) == 1 and "placeholders" in problems[0] and "(context 'digest')" in problems[0]


def test_check_exits_nonzero_with_the_problem_on_stderr(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(i18n.ROOT / "templates", root / "templates", ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
    shutil.copy(i18n.MAPPING, root / "babel.cfg")
    po = root / PO
    po.write_text(po.read_text(encoding="utf-8").replace('msgid "Blockers"\nmsgstr "阻碍"', 'msgid "Blockers"\nmsgstr ""'),
                  encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "templates.i18n", "check"], cwd=root,
                          capture_output=True, text=True, timeout=60, env={"PATH": "", "PYTHONPATH": str(root)})
    assert done.returncode == 1
    assert f"{PO}:" in done.stderr and "untranslated: msgid 'Blockers'" in done.stderr


def test_update_folds_old_per_area_files_keeping_every_translation(locale_dir, extracted):
    folder = locale_dir / "zh_CN" / "LC_MESSAGES"
    _edit(locale_dir, lambda c: c.delete("Blockers"))  # a new word that came with another branch …
    (folder / "standups.po").write_text(  # … whose translation is in the old per-area file
        'msgid ""\nmsgstr ""\n"Language: zh_CN\\n"\n\nmsgid "Blockers"\nmsgstr "阻碍事项"\n\n'
        'msgid "answered"\nmsgstr "答完"\n', encoding="utf-8")
    assert any("standups.po: a separate catalog is not read" in p for p in i18n.check(locale_dir, extracted))
    said = []
    i18n.update(locale_dir, extracted, say=said.append)
    assert not (folder / "standups.po").exists()
    catalog = i18n.read_catalog(i18n.catalog_path("zh_CN", locale_dir), "zh_CN")
    assert catalog.get("Blockers").string == "阻碍事项"
    assert catalog.get("answered").string == "已回答"  # the catalog's own translation is kept, and said so
    assert "standups.po: kept tandem.po's '已回答' for 'answered' (the old file says '答完')" in said
    assert i18n.check(locale_dir, extracted) == []


def test_update_marks_disagreeing_translations_for_a_person(locale_dir, extracted):
    folder = locale_dir / "zh_CN" / "LC_MESSAGES"
    _edit(locale_dir, lambda c: c.delete("Blockers"))
    for name, words in (("a.po", "阻碍"), ("b.po", "障碍")):
        (folder / name).write_text(f'msgid "Blockers"\nmsgstr "{words}"\n', encoding="utf-8")
    i18n.update(locale_dir, extracted, say=lambda _: None)
    problems = i18n.check(locale_dir, extracted)
    assert len(problems) == 1
    assert "conflict (candidates: '阻碍' (a.po) | '障碍' (b.po)): msgid 'Blockers'" in problems[0]


def test_update_keeps_a_translation_when_a_context_is_added(locale_dir):
    template = Catalog()
    template.add("Shipped", context="digest", locations=[("templates/blocks/x.j2", 1)])
    i18n.update(locale_dir, template, say=lambda _: None)
    catalog = i18n.read_catalog(i18n.catalog_path("zh_CN", locale_dir), "zh_CN")
    assert catalog.get("Shipped", "digest").string == "已上线" and not catalog.get("Shipped", "digest").fuzzy


def test_compiled_catalog_is_used_only_while_it_matches_its_po(locale_dir):
    i18n.compile_all(locale_dir)
    assert i18n.load("zh_CN", locale_dir).gettext("Blockers") == "阻碍"
    _edit(locale_dir, lambda c: setattr(c.get("Blockers"), "string", "卡点"))  # edited after compiling
    assert i18n.load("zh_CN", locale_dir).gettext("Blockers") == "卡点"


@pytest.mark.parametrize("chinese", [
    "站会 %(name)s 又开始运行了，请运行 `/standup list`.",  # a sentence ends with "." after code
    "站会 %(name)s 又开始运行了.",
    "站会 %(name)s, 又开始运行了",
    "站会(%(name)s)又开始运行了。",
    "站会:%(name)s 又开始运行了。",
])
def test_english_punctuation_in_chinese_fails(locale_dir, extracted, chinese):
    _edit(locale_dir, lambda c: setattr(c.get("Standup %(name)s is running again."), "string", chinese))
    problems = i18n.check(locale_dir, extracted)
    assert len(problems) == 1, problems
    assert "English punctuation in Chinese" in problems[0] and "msgid 'Standup %(name)s is running again.'" in problems[0]


@pytest.mark.parametrize("chinese", ["CSV 文件：metric,date,value（最多 5 MB）", "例如 30, 60。", "https://example.com 上的说明。",
                                     "可用：status:new、label:名称。", "*已暂停*：%(name)s。", "继续…"])
def test_code_examples_and_chinese_punctuation_pass(chinese):
    assert i18n.punctuation_problems(chinese) == []


def test_punctuation_glued_to_translated_words_in_a_template_fails(tmp_path):
    (tmp_path / "a.yaml.j2").write_text("text: \"{{ _('Approval needed') }}: {{ ref }}\"\n"
                                        "late: \"_({{ _('late') }})_\"\nok: \"{{ _('Blockers') }} · {{ n }}\"\n")
    problems = i18n.template_problems(tmp_path)
    assert [p.split(": punctuation")[0].rsplit(":", 1)[1] for p in problems] == ["1", "2"]
    assert all("move it into the msgid" in p for p in problems)


def test_update_after_a_merge_that_left_an_entry_twice_asks_a_person(locale_dir, extracted):
    path = i18n.catalog_path("zh_CN", locale_dir)
    with path.open("a", encoding="utf-8") as po:
        po.write('\nmsgid "Blockers"\nmsgstr "障碍"\n')
    i18n.update(locale_dir, extracted, say=lambda _: None)
    problems = i18n.check(locale_dir, extracted)
    assert len(problems) == 1 and "conflict (candidates: '阻碍' | '障碍' (both in tandem.po)): msgid 'Blockers'" \
        in problems[0], problems
