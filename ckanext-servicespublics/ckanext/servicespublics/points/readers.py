"""Reading point files in a stream: CSV, JSON lines, JSON, GeoJSON, XLSX.

Nothing here holds a whole file in memory: CSV and JSON lines are read line
by line, a JSON or GeoJSON document is cut into its records by a small
incremental scanner (one record at a time, each at most
``MAX_RECORD_CHARS``), XLSX sheets are read by openpyxl in read-only mode.

Every problem is reported in French, through ``FileError`` (the file cannot
be used: nothing is replaced) or row-level entries (``Report.add``).
"""
from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

__all__ = ["FileError", "Prescan", "prescan", "open_source", "Source"]

BLOCK = 1 << 20
SAMPLE = 1 << 16
MAX_RECORD_CHARS = 16 << 20
#: bytes that cp1252 leaves undefined: their presence means latin-1
_CP1252_HOLES = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "virgule", ";": "point-virgule", "\t": "tabulation",
                   "|": "barre verticale"}
FORMAT_ALIASES = {
    "csv": "csv", "text/csv": "csv", "tsv": "csv", "txt": "csv",
    "geojson": "geojson", "application/geo+json": "geojson",
    "json": "json", "application/json": "json",
    "jsonl": "jsonl", "ndjson": "jsonl", "json lines": "jsonl", "jsonlines": "jsonl",
    "sjson": "jsonl", "geojsonseq": "jsonl", "geojsonl": "jsonl",
    "xlsx": "xlsx", "excel": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
#: formats that can hold points
SUPPORTED_FORMATS = frozenset(FORMAT_ALIASES.values())

csv.field_size_limit(MAX_RECORD_CHARS)


class FileError(Exception):
    """The file cannot be ingested (nothing is replaced)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def normalize_format(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    return FORMAT_ALIASES.get(value.strip().lower().lstrip("."))


@dataclass
class Prescan:
    size: int
    sha256: str
    head: bytes
    utf8: bool
    cp1252: bool
    nul: bool
    encoding_declared: Optional[str] = None
    messages: list[tuple[str, str, str]] = field(default_factory=list)


def prescan(path: str) -> Prescan:
    """One pass over the bytes: size, hash, NUL bytes, UTF-8 validity."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    cp1252 = True
    nul = False
    size = 0
    head = b""
    with open(path, "rb") as stream:
        while True:
            block = stream.read(BLOCK)
            if not block:
                break
            if not head:
                head = block[:SAMPLE]
            size += len(block)
            digest.update(block)
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            if cp1252 and not utf8 and any(b in block for b in _CP1252_HOLES):
                cp1252 = False
            if not nul and b"\x00" in block:
                nul = True
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return Prescan(size=size, sha256=digest.hexdigest(), head=head, utf8=utf8,
                   cp1252=cp1252, nul=nul)


def sniff_format(scan: Prescan, declared: Optional[str]) -> str:
    head = scan.head
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileError(
            "format_unsupported",
            "Ancien format Excel (XLS) non pris en charge : enregistrez le fichier en "
            "XLSX ou en CSV")
    text = head
    for bom in (codecs.BOM_UTF8,):
        if text.startswith(bom):
            text = text[len(bom):]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = head.decode("utf-16", errors="ignore").encode("utf-8")
        except UnicodeError:
            pass
    first = text.lstrip()[:1]
    if first in (b"{", b"["):
        if declared in ("json", "geojson", "jsonl"):
            return declared
        return "json"
    return "csv"


def choose_encoding(scan: Prescan, declared: Optional[str], fmt: str) -> str:
    head = scan.head
    if declared:
        try:
            name = codecs.lookup(declared.strip()).name
        except LookupError as e:
            raise FileError(
                "encoding_unknown",
                f"Encodage inconnu : « {declared} » (exemples : utf-8, windows-1252, "
                "iso-8859-1)") from e
        if name == "utf-8":
            if not scan.utf8 and not head.startswith((codecs.BOM_UTF16_LE,
                                                      codecs.BOM_UTF16_BE)):
                raise FileError(
                    "encoding_mismatch",
                    "Le fichier n'est pas en UTF-8 comme l'indique le champ encoding : "
                    "indiquez son encodage (windows-1252 ou iso-8859-1 ?) ou laissez le "
                    "champ vide pour qu'il soit détecté")
            return "utf-8-sig"
        return name
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if scan.utf8:
        return "utf-8-sig"
    if fmt in ("json", "geojson", "jsonl"):
        raise FileError(
            "encoding_invalid",
            "Le fichier JSON n'est pas en UTF-8 (octets invalides) : JSON doit être "
            "encodé en UTF-8")
    return "cp1252" if scan.cp1252 else "latin-1"


def check_text(scan: Prescan, fmt: str) -> None:
    if scan.size == 0:
        raise FileError("file_empty", "Le fichier est vide (0 octet)")
    if fmt == "xlsx":
        return
    utf16 = scan.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not utf16:
        controls = sum(scan.head.count(bytes([b])) for b in _CONTROL)
        if scan.nul or controls > max(8, len(scan.head) // 100):
            raise FileError(
                "file_binary",
                "Le fichier n'est pas un fichier texte (octets binaires, caractère NUL) : "
                "est-ce bien un CSV, un JSON ou un GeoJSON ?")
    if not scan.head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise FileError("file_empty", "Le fichier est vide (aucune donnée)")


class Source:
    """Records of a file: ``(line, record)``; record None = rejected row."""

    kind = "table"  # or "object"
    format = ""
    has_geometry = False
    columns: list[str]
    crs: Optional[str] = None
    delimiter: Optional[str] = None

    def records(self) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def position(self) -> Optional[int]:
        return None

    def close(self) -> None:
        pass


def _unique_headers(row: list[str]) -> list[str]:
    headers: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(row, start=1):
        name = (name or "").strip().strip("\ufeff")
        if not name:
            name = f"colonne_{index}"
        base, n = name, 2
        while name in seen:
            name = f"{base}_{n}"
            n += 1
        seen.add(name)
        headers.append(name)
    return headers


def detect_delimiter(sample: str) -> str:
    """The delimiter that gives the most columns, consistently, in a sample."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line
    text = "".join(lines[:200])
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        consistent = sum(1 for r in rows if len(r) == width) / len(rows)
        score = (round(consistent, 1), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class CsvSource(Source):
    format = "csv"

    def __init__(self, path: str, encoding: str, delimiter: Optional[str], report):
        self._file = open(path, encoding=encoding, newline="")
        self._report = report
        try:
            sample = self._file.read(SAMPLE)
        except UnicodeDecodeError as e:
            self.close()
            raise _decode_error(e, encoding) from e
        self._file.seek(0)
        self.detected = delimiter is None
        if delimiter is None:
            delimiter = detect_delimiter(sample)
        self.delimiter = delimiter
        self._reader = csv.reader(self._file, delimiter=delimiter)
        header = None
        try:
            for row in self._reader:
                if any(cell.strip() for cell in row):
                    header = row
                    break
        except (csv.Error, UnicodeDecodeError) as e:
            self.close()
            raise _csv_error(e, encoding, 1) from e
        if header is None:
            self.close()
            raise FileError("file_empty", "Le fichier ne contient aucune ligne")
        self.columns = _unique_headers(header)
        if len(self.columns) < 2:
            self.close()
            name = DELIMITER_NAMES.get(delimiter, f"« {delimiter} »")
            raise FileError(
                "single_column",
                f"Une seule colonne lue avec le séparateur {name} "
                f"(en-tête : « {header[0][:80] if header else ''} ») : mauvais séparateur ? "
                "Indiquez le bon dans le champ delimiter (« , », « ; » ou tabulation)")

    def position(self) -> Optional[int]:
        try:
            return self._file.buffer.tell()
        except (ValueError, OSError):
            return None

    def records(self) -> Iterator[tuple[int, Any]]:
        width = len(self.columns)
        report = self._report
        line = 1
        reader = self._reader
        try:
            for row in reader:
                line += 1
                n = len(row)
                if n == width:
                    yield line, row
                    continue
                if n == 0 or not any(cell.strip() for cell in row):
                    line -= 1  # blank lines are not rows
                    continue
                if n > width:
                    if any(cell.strip() for cell in row[width:]):
                        report.add(
                            line, None, None, "error", "row_columns",
                            f"{n} valeurs au lieu de {width} : séparateur dans une valeur "
                            "sans guillemets ?")
                        yield line, None
                        continue
                    yield line, row[:width]
                    continue
                report.add(line, None, None, "warning", "row_short",
                           f"Ligne incomplète : {n} valeurs au lieu de {width}")
                row.extend([""] * (width - n))
                yield line, row
        except UnicodeDecodeError as e:
            raise _decode_error(e, self._file.encoding) from e
        except csv.Error as e:
            raise _csv_error(e, self._file.encoding, line + 1) from e

    def close(self) -> None:
        self._file.close()


def _decode_error(e: UnicodeDecodeError, encoding: str) -> FileError:
    return FileError(
        "encoding_invalid",
        f"Le fichier ne se lit pas en {encoding} : {e.reason} "
        f"(octet {e.object[e.start:e.start + 1]!r}) ; indiquez son encodage dans le champ "
        "encoding")


def _csv_error(e: Exception, encoding: str, line: int) -> FileError:
    if isinstance(e, UnicodeDecodeError):
        return _decode_error(e, encoding)
    return FileError("csv_invalid", f"CSV illisible vers la ligne {line} : {e}")


def _feature_record(obj: Any) -> Any:
    """A GeoJSON Feature becomes its properties, with ``@geometry`` and ``@id``."""
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        props = obj.get("properties")
        record = dict(props) if isinstance(props, dict) else {}
        record["@geometry"] = obj.get("geometry")
        if obj.get("id") is not None:
            record["@id"] = obj["id"]
        return record
    return obj


class JsonLinesSource(Source):
    kind = "object"
    format = "jsonl"

    def __init__(self, path: str, encoding: str, report):
        self._file = open(path, encoding=encoding)
        self._report = report
        objects = self._first_objects()
        self.columns = _sample_paths(objects)
        self.has_geometry = any("@geometry" in o for o in objects)
        self._file.seek(0)

    def _first_objects(self, limit: int = 100) -> list[dict[str, Any]]:
        objects = []
        for text in self._file:
            text = text.strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            obj = _feature_record(obj)
            if isinstance(obj, dict):
                objects.append(obj)
            if len(objects) >= limit:
                break
        return objects

    def position(self) -> Optional[int]:
        try:
            return self._file.buffer.tell()
        except (ValueError, OSError):
            return None

    def records(self) -> Iterator[tuple[int, Any]]:
        loads = json.loads
        report = self._report
        line = 0
        for text in self._file:
            line += 1
            text = text.strip()
            if not text:
                continue
            try:
                obj = loads(text)
            except ValueError as e:
                report.add(line, None, text[:80], "error", "json_invalid",
                           f"Ligne JSON illisible : {e}")
                yield line, None
                continue
            obj = _feature_record(obj)
            if not isinstance(obj, dict):
                report.add(line, None, text[:80], "error", "json_not_object",
                           "Un objet JSON {…} est attendu sur chaque ligne")
                yield line, None
                continue
            yield line, obj

    def close(self) -> None:
        self._file.close()


class _Scanner:
    """Incremental reading of one JSON document, value by value."""

    def __init__(self, stream):
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()
        self.consumed = 0

    def _fill(self, want: int = BLOCK) -> bool:
        if self.eof:
            return False
        data = self.stream.read(want)
        if not data:
            self.eof = True
            return False
        if self.pos > BLOCK:
            self.consumed += self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf += data
        return True

    def peek(self) -> str:
        while True:
            buf, pos = self.buf, self.pos
            n = len(buf)
            while pos < n and buf[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < n:
                return buf[pos]
            if not self._fill():
                return ""

    def expect(self, chars: str) -> str:
        c = self.peek()
        if not c or c not in chars:
            where = self.consumed + self.pos
            found = f"« {c} »" if c else "la fin du fichier"
            raise FileError(
                "json_invalid",
                f"JSON illisible (caractère {where}) : attendu {' ou '.join(chars)}, "
                f"trouvé {found}")
        self.pos += 1
        return c

    def value(self) -> Any:
        self.peek()
        want = BLOCK
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                # an incomplete value: read more, unless there is no more
                if len(self.buf) - self.pos > MAX_RECORD_CHARS:
                    raise FileError(
                        "json_record_too_large",
                        f"Un objet JSON dépasse {MAX_RECORD_CHARS // (1 << 20)} Mo") from e
                if not self._fill(want):
                    where = self.consumed + e.pos
                    raise FileError(
                        "json_invalid",
                        f"JSON illisible (caractère {where}) : {e.msg}") from e
                want *= 2
                continue
            # a number at the very end of the buffer may go on
            if end >= len(self.buf) and not self.eof and isinstance(value, (int, float)):
                if self._fill():
                    continue
            self.pos = end
            return value


class JsonSource(Source):
    """A JSON document: an array of objects, a GeoJSON FeatureCollection, or an
    object whose list member (features, data, records, results…) holds them."""

    kind = "object"
    format = "json"
    LIST_KEYS = ("features", "data", "records", "results", "items", "rows", "points")

    def __init__(self, path: str, encoding: str, report):
        self._path = path
        self._encoding = encoding
        self._report = report
        self.top: dict[str, Any] = {}
        self._file = open(path, encoding=encoding)
        # the first objects give the column names (a second pass reads them all)
        objects = []
        try:
            for _, obj in self._iter(limit=100):
                if isinstance(obj, dict):
                    objects.append(obj)
        except FileError:
            pass
        self.columns = _sample_paths(objects)
        self.has_geometry = any("@geometry" in o for o in objects)
        if self.top.get("type") == "FeatureCollection":
            self.format = "geojson"
        self.crs = _geojson_crs(self.top.get("crs"))
        self._file.close()
        self._file = open(path, encoding=encoding)

    def position(self) -> Optional[int]:
        try:
            return self._file.buffer.tell()
        except (ValueError, OSError):
            return None

    def _iter(self, limit: Optional[int] = None) -> Iterator[tuple[int, Any]]:
        scanner = _Scanner(self._file)
        first = scanner.expect("[{")
        count = 0
        if first == "[":
            items = self._array(scanner)
        else:
            items = self._object(scanner)
        for index, obj in items:
            yield index, obj
            count += 1
            if limit is not None and count >= limit:
                return

    def _array(self, scanner: _Scanner) -> Iterator[tuple[int, Any]]:
        index = 0
        if scanner.peek() == "]":
            scanner.pos += 1
            return
        while True:
            index += 1
            yield index, _feature_record(scanner.value())
            if scanner.expect(",]") == "]":
                return

    def _object(self, scanner: _Scanner) -> Iterator[tuple[int, Any]]:
        found = False
        if scanner.peek() == "}":
            scanner.pos += 1
        else:
            while True:
                key = scanner.value()
                scanner.expect(":")
                if (not found and isinstance(key, str) and key in self.LIST_KEYS
                        and scanner.peek() == "["):
                    scanner.pos += 1
                    found = True
                    self.crs = _geojson_crs(self.top.get("crs")) or self.crs
                    yield from self._array(scanner)
                else:
                    self.top[key] = scanner.value()
                if scanner.expect(",}") == "}":
                    break
        if not found:
            if self.top.get("type") == "Feature":
                yield 1, _feature_record(self.top)
                return
            raise FileError(
                "json_no_records",
                "Aucune liste d'objets dans ce JSON : attendu un tableau [ {…}, … ], une "
                "FeatureCollection GeoJSON ou un objet avec une liste "
                f"({', '.join(self.LIST_KEYS)})")

    def records(self) -> Iterator[tuple[int, Any]]:
        report = self._report
        for index, obj in self._iter():
            if not isinstance(obj, dict):
                report.add(index, None, str(obj)[:80], "error", "json_not_object",
                           f"L'élément n° {index} n'est pas un objet JSON")
                yield index, None
                continue
            yield index, obj

    def close(self) -> None:
        self._file.close()


def _geojson_crs(value: Any) -> Optional[str]:
    """"urn:ogc:def:crs:EPSG::2154" -> "EPSG:2154"."""
    if not isinstance(value, dict):
        return None
    name = (value.get("properties") or {}).get("name")
    if not isinstance(name, str):
        return None
    if "CRS84" in name.upper():
        return "EPSG:4326"
    digits = name.rsplit(":", 1)[-1]
    return f"EPSG:{digits}" if digits.isdigit() else None


def _sample_paths(objects: list[dict[str, Any]]) -> list[str]:
    """Keys of the first objects, and one level of nested keys ("geo.latitude")."""
    paths: dict[str, None] = {}
    for obj in objects:
        for key, value in obj.items():
            if key.startswith("@"):
                continue
            paths.setdefault(key, None)
            if isinstance(value, dict):
                for sub in value:
                    paths.setdefault(f"{key}.{sub}", None)
    return list(paths)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


class XlsxSource(Source):
    format = "xlsx"

    def __init__(self, path: str, sheet: Optional[str], report):
        try:
            import openpyxl
        except ImportError as e:
            raise FileError(
                "format_unsupported",
                "Lecture des fichiers XLSX indisponible sur ce serveur (openpyxl absent) : "
                "publiez le fichier en CSV") from e
        self._report = report
        try:
            self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # zip or XML errors of any kind
            raise FileError("xlsx_invalid", f"Classeur XLSX illisible : {e}") from e
        if sheet:
            if sheet not in self._book.sheetnames:
                self.close()
                raise FileError(
                    "xlsx_sheet",
                    f"Feuille « {sheet} » introuvable (feuilles : "
                    f"{', '.join(self._book.sheetnames)})")
            self._sheet = self._book[sheet]
        else:
            self._sheet = self._book.worksheets[0]
        self._rows = self._sheet.iter_rows(values_only=True)
        self._line = 0
        header = None
        for row in self._rows:
            self._line += 1
            if any(v not in (None, "") for v in row):
                header = [_cell_text(v) for v in row]
                break
        if header is None:
            self.close()
            raise FileError("file_empty", "La feuille de calcul est vide")
        while header and not header[-1].strip():
            header.pop()
        self.columns = _unique_headers(header)

    def records(self) -> Iterator[tuple[int, Any]]:
        width = len(self.columns)
        line = self._line
        for row in self._rows:
            line += 1
            values = [_cell_text(v) for v in row[:width]]
            if not any(v.strip() for v in values):
                continue
            if len(values) < width:
                values.extend([""] * (width - len(values)))
            yield line, values

    def close(self) -> None:
        self._book.close()


def open_source(path: str, scan: Prescan, *, declared_format: Optional[str],
                encoding: Optional[str], delimiter: Optional[str],
                sheet: Optional[str], report) -> Source:
    """The right reader for the file (the content wins over the declared format)."""
    declared = normalize_format(declared_format)
    fmt = sniff_format(scan, declared)
    check_text(scan, fmt)
    if fmt == "xlsx":
        return XlsxSource(path, sheet, report)
    enc = choose_encoding(scan, encoding, fmt)
    if fmt == "csv":
        if declared in ("json", "geojson", "jsonl"):
            report.message("warning", "format_mismatch",
                           f"Le format déclaré est {declared_format}, mais le contenu est "
                           "lu comme un CSV")
        return CsvSource(path, enc, delimiter, report)
    if fmt == "jsonl" or _looks_like_json_lines(path, enc):
        return JsonLinesSource(path, enc, report)
    return JsonSource(path, enc, report)


def _looks_like_json_lines(path: str, encoding: str) -> bool:
    """The first line is a whole object and is not a FeatureCollection."""
    with open(path, encoding=encoding) as stream:
        first = stream.readline(MAX_RECORD_CHARS)
        if not first.endswith("\n"):
            return False
        try:
            obj = json.loads(first)
        except ValueError:
            return False
        if not isinstance(obj, dict) or obj.get("type") == "FeatureCollection":
            return False
        rest = stream.read(SAMPLE).lstrip()
        return rest.startswith("{") or not rest

