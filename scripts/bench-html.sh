#!/bin/bash
# SPDX-License-Identifier: MIT
# bench-html.sh [BUILD_DIR]: `finalloc bench --html` checked as a person sees
# it.  A short bench writes the page and, in the same run, the JSON; the page
# must be well-formed (an XML parser reads it), hold one bar group per
# workload with a ratio, each bar's ratio the JSON's, and one latency curve
# per allocator that has the producer's percentiles; headless Chromium must
# render it to a screenshot that is not blank (the PNG decoded here, the
# bars' colour counted).  Without chromium that last line is a skip.  One
# TAP line per check; what each run printed is kept under
# build/logs/bench-html/.  BIN= overrides bin/finalloc.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/tap-lib.sh"
bin=${BIN:-$top/bin/finalloc}
logdir=${FA_LOGDIR:-$top/build/logs}/bench-html
mkdir -p "$logdir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tap_init bench-html

if [ ! -x "$bin" ]; then
	tap_line fail "bench --html" "not built: $bin (make)"
	tap_summary
	exit
fi
# Every workload, short: what matters here is the page, not the figures.
if ! (cd "$top" && timeout -k 10 600 "$bin" bench --quick --reps 1 --scale 0.02 --tlb-mib 16 \
	--quiet --json --html "$tmp/bench.html") >"$tmp/bench.json" 2>"$logdir/bench.log"; then
	tap_line fail "bench --html runs" "exit $? (log: $logdir/bench.log)"
	tap_summary
	exit
fi
tap_line ok "bench --html runs"
cp "$tmp/bench.html" "$tmp/bench.json" "$logdir/"

# check.py PAGE JSON [PNG]: one "ok|fail|skip NAME [# why]" line per check.
cat >"$tmp/check.py" <<'EOF'
import json, struct, sys, zlib
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
page, js = sys.argv[1], sys.argv[2]
png = sys.argv[3] if len(sys.argv) > 3 else None


def say(ok, name, why=""):
    print(("ok" if ok else "fail") + "|" + name + "|" + why)


def sub_row(m):
    """A row the table draws under a workload's: latencies, faults, peak RSS."""
    return m.startswith("prodcons.") or m == "large.faults" or m.endswith(".rss")


def page_checks(root, data):
    say(root.tag == "html" and root.find("body") is not None, "the page is well-formed",
        "root <%s>" % root.tag)
    peers = {a["name"] for a in data["allocators"] if a["peer"]}
    # The bars the chart must draw, from the same run's JSON: a workload's
    # own row, not the page-size table, a FinAlloc column with a ratio.
    want = {}
    for r in data["results"]:
        if r["workload"] == "tlb" or sub_row(r["metric"]) or r["allocator"] in peers:
            continue
        if r.get("ratio_to_best_peer") is not None:
            want.setdefault(r["metric"], {})[r["allocator"]] = r["ratio_to_best_peer"]
    name = "one bar group per workload, a bar per column, ratios as in the JSON"
    chart = [s for s in root.iter(SVG + "svg") if s.get("id") == "ratios"]
    if len(chart) != 1:
        say(False, name, "no <svg id=ratios>")
    else:
        got, bad = {}, []
        for g in chart[0].iter(SVG + "g"):
            if g.get("class") != "workload":
                continue
            m = g.get("data-metric")
            if m in got:
                bad.append("%s twice" % m)
            got[m] = {}
            for b in g.iter(SVG + "rect"):
                if b.get("class") == "bar":
                    got[m][b.get("data-alloc")] = float(b.get("data-ratio"))
                    if float(b.get("width")) <= 0:
                        bad.append("%s/%s: width %s" % (m, b.get("data-alloc"), b.get("width")))
        if set(got) != set(want):
            bad.append("groups %s, JSON rows %s" % (sorted(got), sorted(want)))
        for m in want:
            for a, x in want[m].items():
                y = got.get(m, {}).get(a)
                if y is None or abs(y - x) > 1e-3 * abs(x):
                    bad.append("%s/%s: bar %s, JSON %s" % (m, a, y, x))
            if len(got.get(m, {})) != len(want[m]):
                bad.append("%s: %d bars, %d ratios" % (m, len(got.get(m, {})), len(want[m])))
        say(not bad and len(want) > 0, name, "; ".join(bad[:5]) or "no workload has a ratio")
    lat = [s for s in root.iter(SVG + "svg") if s.get("id") == "latency"]
    have = {r["allocator"] for r in data["results"] if r["metric"] == "prodcons.max"}
    curves = set()
    for s in lat:
        for g in s.iter(SVG + "g"):
            lines = list(g.iter(SVG + "polyline"))
            if g.get("class") == "curve" and len(lines) == 1 and \
                    len(lines[0].get("points").split()) == 5:
                curves.add(g.get("data-alloc"))
    say(len(lat) == 1 and have and curves == have, "a latency curve (5 points) per allocator",
        "curves %s, allocators with latencies %s" % (sorted(curves), sorted(have)))


def png_rows(path):
    """(width, height, bytes a pixel, rows) of a non-interlaced 8-bit RGB(A) PNG."""
    b = open(path, "rb").read()
    if b[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(b):
        n, kind = struct.unpack(">I4s", b[pos:pos + 8])
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", b[pos + 8:pos + 8 + 13])
        elif kind == b"IDAT":
            idat += b[pos + 8:pos + 8 + n]
        pos += 12 + n
    w, h, depth, ctype, _, _, lace = hdr
    if depth != 8 or ctype not in (2, 6) or lace:
        raise ValueError("PNG depth %d colour type %d interlace %d" % (depth, ctype, lace))
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, rows, i = zlib.decompress(idat), w * bpp, bytearray(w * bpp), [], 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            c = prev[x - bpp] if x >= bpp else 0
            up = prev[x]
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + up) & 255
            elif f == 3:
                line[x] = (line[x] + (a + up) // 2) & 255
            elif f == 4:
                p = a + up - c
                pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def png_check(root, path):
    name = "Chromium renders it, not blank"
    try:
        w, h, bpp, rows = png_rows(path)
    except Exception as e:  # a broken screenshot is a failure, said
        say(False, name, "screenshot: %s" % e)
        return
    bg = rows[0][:3]
    # the first bar's fill, as the page gives it
    fill = next((b.get("fill") for b in root.iter(SVG + "rect") if b.get("class") == "bar"),
                "#000000")
    rgb = bytes(int(fill[k:k + 2], 16) for k in (1, 3, 5))
    other = bar = 0
    for row in rows:
        for x in range(0, w * bpp, bpp):
            px = row[x:x + 3]
            other += px != bg
            bar += px == rgb
    say(other > w * h // 100 and bar >= 100, name,
        "%dx%d: %d pixels not background, %d of the first bar's colour %s" %
        (w, h, other, bar, fill))


try:
    root = ET.parse(page).getroot()
except ET.ParseError as e:
    say(False, "the page is well-formed", str(e))
    sys.exit(0)
if png:
    png_check(root, png)
else:
    page_checks(root, json.load(open(js)))
EOF

check() {
	python3 "$tmp/check.py" "$@" >"$tmp/check.out" 2>&1
	rc=$?
	while IFS='|' read -r st name why; do
		case $st in ok | fail) tap_line "$st" "$name" "$why" ;; *) ;; esac
	done <"$tmp/check.out"
	[ $rc = 0 ] || tap_line fail "check.py" "exit $rc: $(tail -1 "$tmp/check.out")"
}
check "$tmp/bench.html" "$tmp/bench.json"

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
	tap_line skip "Chromium renders it, not blank" "chromium not installed (apt-get install chromium)"
	tap_summary
	exit
fi
# In a container: no sandbox, no GPU, no /dev/shm to speak of; a profile of
# its own, so nothing of the user's is read or written.
timeout -k 10 180 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
	--no-first-run --hide-scrollbars --user-data-dir="$tmp/profile" --window-size=1100,2400 \
	--screenshot="$tmp/shot.png" "file://$tmp/bench.html" >"$logdir/chromium.log" 2>&1
rc=$?
if [ $rc != 0 ] || [ ! -s "$tmp/shot.png" ]; then
	tap_line fail "Chromium renders it, not blank" "chromium exit $rc, no screenshot (log: $logdir/chromium.log)"
else
	cp "$tmp/shot.png" "$logdir/"
	check "$tmp/bench.html" "$tmp/bench.json" "$tmp/shot.png"
fi
tap_summary
