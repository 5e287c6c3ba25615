"""A simulated viewer: what one browser opening a shared link does to the server, without running a browser.

record() loads a URL once in Chromium and keeps the list of HTTP requests it made (the page, Streamlit's static
bundles, the health checks); view() replays that list over keep-alive connections (6 at a time, as Chromium does
over HTTP/1.1, asking for gzip), opens the session's websocket with the page's query string, and waits until the
server has sent every chart and finished the script.
"""

import asyncio
import time
from urllib.parse import urlencode, urlsplit

from bench.browser import CHROMIUM_ARGS, DRAWN, TIMEOUT_MS, launch

N_CONNECTIONS = 6  # Chromium's connections per host over HTTP/1.1
ACCEPT = "gzip, deflate, br, zstd"  # what Chromium asks for
TIMEOUT_S = 120.0  # one viewer's limit for everything; past it the viewer counts as an error


def record(browser, url):  # -> [(path with query, status)]: every HTTP request a fresh Chromium context made
    """Load url until every chart is drawn, then one quiet second more (plotly's chunk loads with the first chart)."""
    ctx = browser.new_context()
    page = ctx.new_page()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    seen = []
    page.on("requestfinished", lambda r: seen.append(r))
    page.goto(url, timeout=TIMEOUT_MS)
    page.wait_for_function(DRAWN, arg=1, timeout=TIMEOUT_MS)
    page.wait_for_timeout(1000)
    requests = []
    for r in seen:
        if r.url.startswith(origin) and r.method == "GET" and "/_stcore/stream" not in r.url:
            response = r.response()
            requests.append((r.url[len(origin) :] or "/", response.status if response else 0))
    ctx.close()
    return requests


def record_all(urls):  # {name: url} -> {name: [(path, status)]}, one Chromium for all
    from playwright.sync_api import sync_playwright

    assert CHROMIUM_ARGS  # the same Debian Chromium and flags as bench/browser.py
    with sync_playwright() as p:
        b = launch(p)
        try:
            return {name: record(b, url) for name, url in urls.items()}
        finally:
            b.close()


async def http_get(reader, writer, host, path, cookie):  # -> (status, headers dict, body bytes) on a kept-alive socket
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", f"Accept-Encoding: {ACCEPT}", "Accept: */*"]
    writer.write(("\r\n".join(lines + ([f"Cookie: {cookie}"] if cookie else []) + ["", ""])).encode())
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        key, _, value = line.decode("latin-1").partition(":")
        headers.setdefault(key.strip().lower(), value.strip())
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while size := int((await reader.readline()).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]  # the chunk, without its CRLF
        await reader.readline()
    else:
        body = await reader.readexactly(int(headers.get("content-length", 0)))
    return status, headers, bytes(body)


async def fetch_all(base, requests, cookie):  # -> (bytes received, [error]); cookie: [str | None], set by the page
    """The page first (its answer carries the route cookie), then the rest over N_CONNECTIONS kept-alive sockets."""
    parts = urlsplit(base)
    queue = list(requests)
    received, errors = [0], []

    async def connection(first_only=False):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while queue:
                path, expected = queue.pop(0)
                status, headers, body = await http_get(reader, writer, parts.netloc, path, cookie[0])
                received[0] += len(body)
                if "set-cookie" in headers and headers["set-cookie"].startswith("stroute="):
                    cookie[0] = headers["set-cookie"].split(";", 1)[0]
                if status != expected:
                    errors.append(f"GET {path.split('?')[0]}: {status} (a browser got {expected})")
                if headers.get("connection", "").lower() == "close" or first_only:
                    break
        finally:
            writer.close()

    await connection(first_only=True)
    await asyncio.gather(*(connection() for _ in range(min(N_CONNECTIONS, len(queue)))))
    return received[0], errors


async def session(base, path, query, cookie=None, finished=None, hold=None):  # -> dict: first, all (s), charts, errors
    """Streamlit's websocket as the frontend opens it: a rerun request with the page and query string, then
    ForwardMsgs until the script has finished (seconds from connecting); then finished(result) is called, and the
    socket stays open until hold (an asyncio.Event) is set, if given. Nothing is drawn."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    request = BackMsg()
    request.rerun_script.query_string = query
    request.rerun_script.page_name = path.strip("/")
    result = dict(first=None, all=None, charts=0, errors=[])
    headers = {"Cookie": cookie} if cookie else None
    ws_url = base.replace("http", "ws", 1) + "/_stcore/stream"
    start = time.perf_counter()
    async with websockets.connect(ws_url, subprotocols=["streamlit"], origin=base, max_size=None,
                                  additional_headers=headers, open_timeout=TIMEOUT_S) as ws:  # fmt: skip
        await ws.send(request.SerializeToString())
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await ws.recv())
            kind = msg.WhichOneof("type")
            element = msg.delta.new_element.WhichOneof("type") if kind == "delta" else None
            if element == "plotly_chart":
                result["charts"] += 1
                result["first"] = result["first"] or time.perf_counter() - start
            elif element == "exception":
                result["errors"].append("exception on the page")
            elif kind == "script_finished":
                result["all"] = time.perf_counter() - start
                if finished:
                    finished(result)
                if hold is not None:
                    await hold.wait()
                return result


async def view(base, url_path, requests, n_charts=1, hold=None, done=None):  # -> dict: one viewer, to its last chart
    """Fetch the page and its files as the recorded browser did, then the session; hold: an asyncio.Event the
    websocket waits for before closing (a crowd keeps its sessions open), or None to close at once; done() is
    called once the viewer has every chart or has failed."""
    path, _, query = url_path.partition("?")
    start = time.perf_counter()
    out = dict(all=None, bytes=0, charts=0, errors=[])

    def finished(s):
        out.update(charts=s["charts"], all=time.perf_counter() - start)
        if s["charts"] < n_charts:
            out["errors"].append(f"{s['charts']} of {n_charts} charts")
        timeout.reschedule(None)  # the limit covers the load, not the time the session is held open
        if done:
            done()

    try:
        async with asyncio.timeout(TIMEOUT_S) as timeout:
            cookie = [None]
            out["bytes"], out["errors"] = await fetch_all(base, requests, cookie)
            s = await session(base, path, query, cookie[0], finished, hold)
            out["errors"] += s["errors"]
    except Exception as err:  # noqa: BLE001 - a viewer that fails is counted and reported, not fatal
        out["errors"].append(f"{type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else 'timed out'}")
        if done and out["all"] is None:
            done()
    return out


def url_path(path="/", **query):  # -> "/scores?model=minilm"
    q = urlencode({k: v for k, v in query.items() if v is not None})
    return path + (f"?{q}" if q else "")
