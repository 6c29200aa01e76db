"""The translation catalogs: one per language, kept with Babel's own tooling.

    python -m templates.i18n update    extract every msgid (babel.cfg: templates/blocks/**.j2 and the Python
                                       code), merge them into templates/locale/<lang>/LC_MESSAGES/tandem.po,
                                       and fold in any other .po file found there (then removed)
    python -m templates.i18n check     exit 1, one line per problem (msgid and file), when a msgid is
                                       missing, untranslated or fuzzy, appears twice (a merge), loses a
                                       placeholder, or a Chinese line ends in English punctuation
    python -m templates.i18n compile   write tandem.mo next to each tandem.po (optional, see below)

`update` never loses a translation it can find: a msgid without one takes it from any other entry
with the same English (another context, an obsolete entry, or an old per-area .po file such as
standups.po). Where those disagree, the message is marked fuzzy with the candidates in a comment,
so `check` fails until a person picks one. A translation already in tandem.po is never overridden
by an old file; a differing one is printed so that nothing changes silently.

Compiling: the bot compiles each catalog in memory on first use (about 25 ms for the Chinese
catalog on our machine), so a checkout never serves words older than its .po and there is
nothing to forget to build. `compile` writes tandem.mo, which records the sha256 of the .po it
came from; the loader uses it only while that still matches (saves the 25 ms in each template
child process of templates/sandbox.py).
"""

from __future__ import annotations

import hashlib
import re
import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileParser
from babel.support import NullTranslations, Translations

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOCALE_DIR = HERE / "locale"
MAPPING = ROOT / "babel.cfg"
DOMAIN = "tandem"
TRANSLATED = ("zh_CN",)  # English is the msgids themselves
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
_HASH_PREFIX = "tandem po-sha256:"
HEADER = """\
# The words of Tandem in one language. Kept by `python -m templates.i18n update` (see
# templates/i18n.py): add a word with _() / ngettext() / pgettext() in a template, run update,
# translate what is new here, run check. Keep placeholders such as %(given)s unchanged."""


def catalog_path(language: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


class _Recording(Catalog):
    """A catalog that remembers entries seen twice (a merge that added the same msgid in two
    places): Babel's reader would keep the first silently."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.duplicates: list[Message] = []

    def __setitem__(self, id, message):
        if id and self._key_for(id, message.context) in self._messages:
            self.duplicates.append(message)
        super().__setitem__(id, message)


def read_catalog(path: Path, language: str) -> _Recording:
    catalog = _Recording(locale=language, domain=DOMAIN)
    with path.open("rb") as handle:
        PoFileParser(catalog).parse(handle)
    return catalog


# ---- loading at run time -------------------------------------------------------------------------

def load(language: str, locale_dir: Path = LOCALE_DIR) -> NullTranslations:
    """The compiled catalog of `language`: tandem.mo when it was compiled from this very .po,
    else compiled in memory now."""
    po_path = catalog_path(language, locale_dir)
    if language not in TRANSLATED or not po_path.exists():
        return NullTranslations()
    po_bytes = po_path.read_bytes()
    digest = hashlib.sha256(po_bytes).hexdigest()
    mo_path = po_path.with_suffix(".mo")
    if mo_path.exists():
        with mo_path.open("rb") as handle:
            compiled = Translations(handle, domain=DOMAIN)
        if compiled.info().get("project-id-version") == _HASH_PREFIX + digest:
            return compiled
    return Translations(BytesIO(_mo_bytes(po_path, language, digest)), domain=DOMAIN)


def _mo_bytes(po_path: Path, language: str, digest: str) -> bytes:
    catalog = read_catalog(po_path, language)
    catalog.project, catalog.version = _HASH_PREFIX + digest, ""
    buffer = BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    return buffer.getvalue()


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    written = []
    for language in TRANSLATED:
        po_path = catalog_path(language, locale_dir)
        digest = hashlib.sha256(po_path.read_bytes()).hexdigest()
        po_path.with_suffix(".mo").write_bytes(_mo_bytes(po_path, language, digest))
        written.append(po_path.with_suffix(".mo"))
    return written


# ---- extracting and updating ----------------------------------------------------------------------

def extract(root: Path = ROOT, mapping: Path = MAPPING) -> Catalog:
    """Every msgid in templates and code, by babel.cfg, with where it is used."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with mapping.open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(mapping))
    template = Catalog(domain=DOMAIN, project="tandem")
    for filename, lineno, message, comments, context in extract_from_dir(
            root, method_map, options_map, keywords=DEFAULT_KEYWORDS, comment_tags=("Translators:",),
            strip_comment_tags=True):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _old_files(language: str, locale_dir: Path) -> list[Path]:
    folder = locale_dir / language / "LC_MESSAGES"
    return sorted(p for p in folder.glob("*.po") if p.name != f"{DOMAIN}.po")


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, list | tuple) else [message.string]
    return bool(message.id) and all(strings) and not message.fuzzy


def _english(message: Message) -> str:
    return message.id[0] if isinstance(message.id, list | tuple) else message.id


def update(locale_dir: Path = LOCALE_DIR, template: Catalog | None = None, say=print) -> list[Path]:
    """Merge the extracted msgids into each language's tandem.po, keeping every translation found."""
    template = template or extract()
    written = []
    for language in TRANSLATED:
        po_path = catalog_path(language, locale_dir)
        catalog = read_catalog(po_path, language) if po_path.exists() else Catalog(locale=language, domain=DOMAIN)
        old_files = _old_files(language, locale_dir)
        for twice in getattr(catalog, "duplicates", []):  # a merge left two entries: a person picks one
            kept = catalog.get(twice.id, twice.context)
            if twice.string and kept.string != twice.string:
                kept.flags.add("fuzzy")
                kept.user_comments.append(f"candidates: {kept.string!r} | {twice.string!r} (both in {po_path.name})")
        # msgid (any context) -> translation -> where it was found
        known: dict[str, dict] = {}
        for message in [*catalog, *catalog.obsolete.values()]:
            if _translated(message):
                known.setdefault(_english(message), {}).setdefault(_key(message.string), (message.string, po_path.name))
        for old_path in old_files:
            for message in read_catalog(old_path, language):
                if not _translated(message):
                    continue
                current = catalog.get(message.id, message.context)
                if current is not None and _translated(current) and current.string != message.string:
                    say(f"{old_path.name}: kept tandem.po's {current.string!r} for {_english(message)!r} "
                        f"(the old file says {message.string!r})")
                known.setdefault(_english(message), {}).setdefault(_key(message.string), (message.string, old_path.name))
        fresh = Catalog(domain=DOMAIN)  # Catalog.update adopts new messages as they are: give it copies
        for message in template:
            if message.id:
                fresh[message.id] = message.clone()
        catalog.update(fresh, no_fuzzy_matching=True, update_creation_date=False)
        for message in catalog:
            if not message.id or _translated(message):
                continue
            candidates = [c for c in known.get(_english(message), {}).values()
                          if _shape(c[0]) == _shape(message.string)]
            if not candidates:
                continue
            message.string = candidates[0][0]
            if len(candidates) == 1:
                message.flags.discard("fuzzy")
            else:  # the same English translated differently: a person decides
                message.flags.add("fuzzy")
                message.user_comments = [c for c in message.user_comments if not c.startswith("candidates:")]
                message.user_comments.append("candidates: " + " | ".join(f"{s!r} ({f})" for s, f in candidates))
        catalog.header_comment, catalog.project, catalog.version = HEADER, "tandem", "1"
        catalog.msgid_bugs_address = catalog.last_translator = catalog.language_team = "Tandem maintainers"
        po_path.parent.mkdir(parents=True, exist_ok=True)
        _write(po_path, catalog)
        written.append(po_path)
        for old_path in old_files:
            old_path.unlink()
            say(f"{old_path.name}: folded into {po_path.name} and removed")
    return written


def _key(string) -> str:
    return "\x00".join(string) if isinstance(string, list | tuple) else string


def _shape(string) -> int:
    """1 for a plain message, the number of forms for a plural one."""
    return len(string) if isinstance(string, list | tuple) else 1


def _write(po_path: Path, catalog: Catalog) -> None:
    from babel.messages.pofile import write_po

    buffer = BytesIO()
    # Sorted, file names without line numbers: two branches adding words rarely touch the same lines,
    # and moving a template line does not rewrite the catalog.
    write_po(buffer, catalog, width=0, sort_output=True, include_lineno=False)
    po_path.write_bytes(buffer.getvalue())


# ---- checking ----------------------------------------------------------------------------------------

_CJK = r"[\u3400-\u9fff\uf900-\ufaff]"
_ASCII_NEXT_TO_CJK = re.compile(
    rf"{_CJK} ?[,;!?(]|{_CJK} ?:(?!//)|[,;:)] ?{_CJK}|{_CJK}\.(?=\s|$|{_CJK})|\( ?{_CJK}|{_CJK} ?\)")


def punctuation_problems(text: str) -> list[str]:
    """English punctuation inside Chinese text: `，。：；！？（）` belong there. Code, placeholders,
    links and mrkdwn markers are left alone."""
    plain = PLACEHOLDER.sub("X", text)
    # code, links/mentions, emoji, filters such as status:new or label:名称
    plain = re.sub(r"`[^`]*`|<[^>]*>|:[a-z0-9_+-]+:|\b[a-z_]+:[^\s、，。]+", "X", plain)
    plain = plain.replace("*", "").replace("_", "")  # *bold* and _italic_ wrap words, not punctuation
    found = sorted({m.group(0) for m in _ASCII_NEXT_TO_CJK.finditer(plain)})
    if re.search(_CJK, plain) and re.search(r"(?<!\.)\.\s*$", plain):
        found.insert(0, plain.rstrip()[-3:])  # a sentence ends with "." after code or a placeholder
    return [f"English punctuation in Chinese: {found[0]!r}"] if found else []


_CALL = r"(?:_|gettext|ngettext|pgettext|npgettext)\("
# `{{ _('Blocked') }}:` or `({{ _('late') }})`: punctuation outside the words stays English in Chinese
_GLUED = re.compile(r"\{\{-?\s*" + _CALL + r"(?:[^{}]|\{[^{}]*\})*?\)\s*-?\}\}[.:;,!?()]|\(\{\{-?\s*" + _CALL)


def template_problems(blocks_dir: Path) -> list[str]:
    """Punctuation a template glues to translated words, which Chinese would show in English."""
    problems = []
    for path in sorted(blocks_dir.rglob("*.j2")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for glued in _GLUED.finditer(line):
                shown = path.relative_to(ROOT) if ROOT in path.parents else path
                problems.append(f"{shown}:{number}: punctuation outside the translated words: "
                                f"{glued.group(0)[-30:]!r}; move it into the msgid")
    return problems


def check(locale_dir: Path = LOCALE_DIR, template: Catalog | None = None,
          blocks_dir: Path = HERE / "blocks") -> list[str]:
    """One line per problem, naming the msgid and the file; empty when every catalog is complete."""
    template = template or extract()
    problems = template_problems(blocks_dir)
    for language in TRANSLATED:
        po_path = catalog_path(language, locale_dir)
        name = po_path.relative_to(ROOT) if ROOT in po_path.parents else po_path
        for old_path in _old_files(language, locale_dir):
            problems.append(f"{old_path}: a separate catalog is not read; fold it in with "
                            f"`python -m templates.i18n update`")
        if not po_path.exists():
            problems.append(f"{name}: missing; run `python -m templates.i18n update`")
            continue
        try:
            catalog = read_catalog(po_path, language)
        except Exception as exc:  # a merge conflict marker, a broken quote: say where
            problems.append(f"{name}: cannot be read ({exc})")
            continue
        for message in catalog.duplicates:
            problems.append(f"{name}:{message.lineno}: conflict: {_label(message)} appears twice "
                            f"(a merge?); keep one translation")
        for wanted in template:
            if not wanted.id:
                continue
            used = _where(wanted)
            message = catalog.get(wanted.id, wanted.context)
            if message is None:
                problems.append(f"{name}: missing: {_label(wanted)} used in {used}; "
                                f"run `python -m templates.i18n update` and translate it")
            elif message.fuzzy:
                candidates = [c for c in message.user_comments if c.startswith("candidates:")]
                what = "conflict (" + candidates[0] + ")" if candidates else "fuzzy (review it, then drop the flag)"
                problems.append(f"{name}:{message.lineno}: {what}: {_label(wanted)} used in {used}")
            elif not _translated(message):
                problems.append(f"{name}:{message.lineno}: untranslated: {_label(wanted)} used in {used}")
            else:
                problems += [f"{name}:{message.lineno}: {p}: {_label(wanted)}" for p in _message_problems(message)]
    return problems


def _message_problems(message: Message) -> list[str]:
    problems = []
    ids = message.id if isinstance(message.id, list | tuple) else [message.id]
    strings = message.string if isinstance(message.string, list | tuple) else [message.string]
    wanted = sorted(set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0])))
    for index, string in enumerate(strings):
        got = sorted(set(PLACEHOLDER.findall(string)))
        # Only the last form (zh_CN's only one) must say everything: English "one" may say "the request"
        if [p for p in got if p not in wanted] or (index == len(strings) - 1 and [p for p in wanted if p not in got]):
            problems.append(f"placeholders {got} differ from the English {wanted}")
        problems += punctuation_problems(string)
    return problems


def _label(message: Message) -> str:
    label = f"msgid {_english(message)!r}"
    return label + (f" (context {message.context!r})" if message.context else "")


def _where(message: Message) -> str:
    return ", ".join(sorted({f"{f}:{n}" if n else f for f, n in message.locations})) or "?"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "update":
        for path in update():
            print(f"updated {path.relative_to(ROOT)}")
        problems = check()
        for problem in problems:
            print(problem)
        return 0
    if command == "check":
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"{len(problems)} translation problem(s)", file=sys.stderr)
            return 1
        print("catalogs complete")
        return 0
    if command == "compile":
        problems = check()
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        for path in compile_all():
            print(f"compiled {path.relative_to(ROOT)}")
        return 0
    print("usage: python -m templates.i18n update|check|compile", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
