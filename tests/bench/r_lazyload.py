"""Reads data frames out of an installed R package's lazy-load database.

R packages ship their datasets as data/Rdata.rdx (a gzipped R serialization:
the index of objects, each an [offset, length] into Rdata.rdb) and
data/Rdata.rdb (each object: a 4-byte big-endian length, a compression type
byte, then the compressed R serialization). This reads what Debian's
r-cran-* packages carry (XDR serialization, formats 2 and 3; LZMA- or
zlib-compressed objects) for data frames of integer, double, factor and
character columns, without R.

  frame = read_data_frame("ROOT/usr/lib/R/site-library/modeldata/data", "training_data")
  frame["review"][0], frame["score"][0]
"""

import gzip
import lzma
import os
import struct
import zlib

_NULLISH = {254, 253, 242, 241, 251, 252, 247}  # NILVALUE, GLOBALENV, ... markers
_NA_INTEGER = -2**31


class _Reader:
    """R's XDR serialization, enough for data frames and the lazy-load index."""

    def __init__(self, data):
        self.data, self.pos, self.refs = data, 0, []

    def _int(self):
        value = struct.unpack_from(">i", self.data, self.pos)[0]
        self.pos += 4
        return value

    def _length(self):
        value = self._int()
        if value == -1:  # long vector: two more words
            value = (self._int() << 32) + self._int()
        return value

    def top(self):
        if self.data[:2] != b"X\n":
            raise ValueError("not an XDR R serialization")
        self.pos = 2
        version = self._int()
        self._int(), self._int()  # writer's and minimal reader's R versions
        if version == 3:
            name_length = self._int()  # then the native encoding's name
            self.pos += name_length
        return self._item()

    def _item(self):
        flags = self._int()
        kind, has_attr, has_tag = flags & 0xFF, flags & 512, flags & 1024
        if kind in _NULLISH:
            return None
        if kind == 255:  # reference to an earlier symbol
            index = flags >> 8
            return self.refs[(index or self._int()) - 1]
        if kind == 1:  # symbol
            symbol = ("symbol", self._item())
            self.refs.append(symbol)
            return symbol
        if kind in (2, 239):  # pairlist: [(tag, value)]
            pairs = []
            while True:
                if has_attr:
                    self._item()
                tag = self._item() if has_tag else None
                pairs.append((tag[1] if tag else None, self._item()))
                flags = self._int()
                kind, has_attr, has_tag = flags & 0xFF, flags & 512, flags & 1024
                if kind == 254:
                    return pairs
                if kind not in (2, 239):
                    raise ValueError(f"unexpected SEXP type {kind} in a pairlist")
        if kind == 9:  # CHARSXP
            length = self._int()
            if length == -1:
                return None
            text = self.data[self.pos:self.pos + length].decode("utf-8", "replace")
            self.pos += length
            return text
        if kind in (10, 13):  # logical, integer
            n = self._length()
            values = list(struct.unpack_from(f">{n}i", self.data, self.pos))
            self.pos += 4 * n
        elif kind == 14:  # double
            n = self._length()
            values = list(struct.unpack_from(f">{n}d", self.data, self.pos))
            self.pos += 8 * n
        elif kind in (16, 19, 20):  # character, list, expression
            values = [self._item() for _ in range(self._length())]
        else:
            raise ValueError(f"unsupported SEXP type {kind}")
        attributes = dict(self._item()) if has_attr else {}
        return {"values": values, "attributes": attributes}


def _column(vector):
    levels = vector["attributes"].get("levels")
    if levels:  # a factor: 1-based codes into its levels
        return [None if code == _NA_INTEGER else levels["values"][code - 1]
                for code in vector["values"]]
    return vector["values"]


def _names(vector):
    return vector["attributes"]["names"]["values"]


def read_data_frame(data_dir, name):
    """The data frame `name` of the package whose data/ folder is data_dir, as {column: list}."""
    with open(os.path.join(data_dir, "Rdata.rdx"), "rb") as f:
        index = _Reader(gzip.decompress(f.read())).top()
    index = dict(zip(_names(index), index["values"]))
    variables = dict(zip(_names(index["variables"]),
                         (v["values"] for v in index["variables"]["values"])))
    if name not in variables:
        raise KeyError(f"{name} is not in {data_dir} (it has {sorted(variables)})")
    offset, length = (int(x) for x in variables[name])
    with open(os.path.join(data_dir, "Rdata.rdb"), "rb") as f:
        f.seek(offset)
        blob = f.read(length)
    kind, body = blob[4:5], blob[5:]
    if kind == b"Z":
        raw = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA2, "dict_size": 1 << 26}]).decompress(body)
    elif kind == b"1":
        raw = zlib.decompress(body)
    else:  # older packages: zlib without the type byte
        raw = zlib.decompress(blob[4:])
    frame = _Reader(raw).top()
    return {column: _column(vector) for column, vector in zip(_names(frame), frame["values"])}
