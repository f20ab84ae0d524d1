"""Which URLs an HTML document or a stylesheet references, where, and in the normalised form push matching uses."""

from __future__ import annotations

import pytest
from factory import Lab, html

from pushscope.http.references import css_references, html_references, references_in
from pushscope.http.urls import normalize_url

BASE = "https://example.test/dir/page.html"


def urls(body: str, base: str = BASE) -> list[str]:
    return [r.url for r in html_references(body.encode(), base)]


def css_urls(body: str, base: str = "https://example.test/css/site.css") -> list[str]:
    return [r.url for r in css_references(body.encode(), base)]


# --- normalisation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("https://example.test:443/a", "https://example.test/a"),
        ("http://example.test:80/a", "http://example.test/a"),
        ("https://example.test:80/a", "https://example.test:80/a"),
        ("http://example.test:443/a", "http://example.test:443/a"),
        ("https://example.test:8443/a?q=1", "https://example.test:8443/a?q=1"),
        ("HTTPS://Example.TEST/Path", "https://example.test/Path"),
        ("https://example.test/a#section", "https://example.test/a"),
        ("https://example.test", "https://example.test/"),
        ("https://[::1]:443/x", "https://[::1]/x"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
    ],
)
def test_normalize_url(raw: str, normal: str) -> None:
    assert normalize_url(raw) == normal


@pytest.mark.parametrize("body", ['<img src="http://example.test:99999/a.png">', '<img src="//example.test:x/a">'])
def test_bad_port_in_a_document_does_not_raise(body: str) -> None:
    found = urls(body + '<img src="/ok.png">')
    assert "https://example.test/ok.png" in found


def test_bad_port_in_a_document_does_not_stop_the_analysis() -> None:
    lab = Lab()
    conn = lab.h2(0.0)
    parent = conn.request("/", 0.01)
    conn.push(parent, "/style.css", 0.02, end=0.025)
    conn.respond(parent, 0.03, body=html("/style.css", extra='<img src="https://example.test:99999/x.png">'),
                 end=0.04)
    lab.analyse()
    assert lab.push("/style.css").reason == "claimed"


# --- HTML ---------------------------------------------------------------------------------------------------


def test_relative_urls_resolve_against_the_document() -> None:
    body = '<img src="a.png"><img src="../up.png"><img src="/root.png"><script src="//cdn.test/x.js"></script>'
    assert urls(body) == ["https://example.test/dir/a.png", "https://example.test/up.png",
                          "https://example.test/root.png", "https://cdn.test/x.js"]


def test_fragment_dropped_and_default_port_normalised() -> None:
    body = '<img src="/sprite.svg#icon"><script src="https://Example.test:443/app.js"></script>'
    assert urls(body) == ["https://example.test/sprite.svg", "https://example.test/app.js"]


def test_srcset_every_candidate() -> None:
    body = '<img src="/a.png" srcset="/a-1x.png 1x, /a-2x.png 2x,/a-w.png 640w">'
    assert urls(body) == ["https://example.test/a.png", "https://example.test/a-1x.png",
                          "https://example.test/a-2x.png", "https://example.test/a-w.png"]


def test_picture_source_srcset_and_video_source() -> None:
    body = ('<picture><source srcset="/p.avif" type="image/avif"><source srcset="/p.webp 1x, /p@2.webp 2x">'
            '<img src="/p.jpg"></picture><video poster="/poster.jpg"><source src="/v.mp4"></video>')
    found = html_references(body.encode(), BASE)
    assert [r.url.rsplit("/", 1)[1] for r in found] == ["p.avif", "p.webp", "p@2.webp", "p.jpg", "poster.jpg",
                                                        "v.mp4"]
    assert found[0].kind == "<source srcset>" and found[-1].kind == "<source src>"


def test_iframe() -> None:
    (ref,) = html_references(b'<iframe src="frame.html"></iframe>', BASE)
    assert ref.url == "https://example.test/dir/frame.html" and ref.kind == "<iframe src>"


@pytest.mark.parametrize(
    ("tag", "fetched"),
    [('<link rel="stylesheet" href="/s.css">', True), ('<link rel="preload" href="/f.woff2" as="font">', True),
     ('<link rel="modulepreload" href="/m.js">', True), ('<link rel="icon" href="/i.ico">', True),
     ('<link rel="alternate" href="/feed.xml">', False), ('<link rel="canonical" href="/c">', False),
     ('<a href="/next.html">next</a>', False), ('<link rel="stylesheet">', False)],
)
def test_link_rels_that_fetch(tag: str, fetched: bool) -> None:
    assert bool(urls(tag)) is fetched


def test_link_imagesrcset() -> None:
    assert urls('<link rel="preload" as="image" imagesrcset="/h1.png 1x, /h2.png 2x">') == [
        "https://example.test/h1.png", "https://example.test/h2.png"]


def test_style_element_and_attribute() -> None:
    body = '<style>body{background:url("/bg.png")}</style><div style="background-image:url(\'/div.png\')"></div>'
    found = html_references(body.encode(), BASE)
    assert [(r.url, r.kind) for r in found] == [("https://example.test/bg.png", "<style> url()"),
                                                ("https://example.test/div.png", "style=url()")]


def test_non_fetching_schemes_ignored() -> None:
    body = ('<img src="data:image/png;base64,AAAA"><a href="mailto:x@y"></a><iframe src="about:blank"></iframe>'
            '<script src="javascript:void(0)"></script><img src="#top"><img src="  ">')
    assert urls(body) == []


def test_offset_is_the_byte_after_the_tag_in_utf8() -> None:
    prefix = "é" * 10  # 2 bytes each
    tag = '<img src="/a.png">'
    (ref,) = html_references((prefix + tag).encode(), BASE)
    assert ref.offset == 20 + len(tag)
    body = "<p>\nline two ü</p>\n" + tag
    (ref,) = html_references(body.encode(), BASE)
    assert ref.offset == len(body.encode())


def test_hostile_html_does_not_raise() -> None:
    assert isinstance(html_references(b"<img src=\"/a.png\" <<<<</// <![CDATA[ \xff\xfe <script", BASE), list)


def test_base_href_changes_resolution() -> None:
    body = '<head><base href="https://static.example.test/v2/"><link rel=stylesheet href="site.css"></head>'
    assert urls(body) == ["https://static.example.test/v2/site.css"]


# --- CSS ----------------------------------------------------------------------------------------------------


def test_css_url_quotes() -> None:
    body = "a{background:url(one.png)} b{background:url('two.png')} c{background:url( \"three.png\" )}"
    assert css_urls(body) == ["https://example.test/css/one.png", "https://example.test/css/two.png",
                              "https://example.test/css/three.png"]


def test_css_relative_resolution_against_the_stylesheet() -> None:
    assert css_urls("@font-face{src:url(../fonts/f.woff2) format('woff2')}") == [
        "https://example.test/fonts/f.woff2"]


def test_css_import_forms() -> None:
    body = "@import \"reset.css\";\n@import url('theme.css') screen;\n@import 'print.css' print;"
    found = css_references(body.encode(), "https://example.test/css/site.css")
    assert [(r.url.rsplit("/", 1)[1], r.kind) for r in found] == [
        ("reset.css", "@import"), ("theme.css", "@import"), ("print.css", "@import")]


def test_css_data_uri_ignored_and_offsets_increase() -> None:
    body = "a{background:url(data:image/gif;base64,R0lGOD)} b{background:url(/b.png)} c{background:url(/c.png)}"
    found = css_references(body.encode(), "https://example.test/s.css")
    assert [r.url for r in found] == ["https://example.test/b.png", "https://example.test/c.png"]
    assert found[0].offset < found[1].offset == body.index("/c.png)") + len("/c.png)")


def test_url_after_import_is_labelled_url() -> None:
    found = css_references(b'@import "a.css"; body{background:url(b.png)}', "https://example.test/s.css")
    assert [r.kind for r in found] == ["@import", "url()"]


@pytest.mark.parametrize(
    ("content_type", "base", "css"),
    [("text/css", "https://example.test/x", True), ("", "https://example.test/s.css", True),
     ("text/html", "https://example.test/s.css", False), ("", "https://example.test/", False)],
)
def test_references_in_picks_the_parser(content_type: str, base: str, css: bool) -> None:
    body = b'<img src="/i.png"> url(/u.png)'
    found = [r.url.rsplit("/", 1)[1] for r in references_in(content_type, body, base)]
    assert found == (["u.png"] if css else ["i.png"])
