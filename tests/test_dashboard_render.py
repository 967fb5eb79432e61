"""deploy/grafana/render.py, which draws the Grafana dashboard for the README without
Grafana: its queries against a real Prometheus (Debian's binary, scraping a small /metrics
served here with the product's metric names), and its layout on Grafana's grid."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server

from gurulu.common.metrics import LAG_BUCKETS

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = Path("/usr/bin/prometheus")
BACKLOG = 7


def load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render", ROOT / "deploy/grafana/render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Registered first: dataclasses look their module up while the file executes.
    sys.modules["render"] = module
    spec.loader.exec_module(module)
    return module


render = load_render()
DASHBOARD = render.json.loads(render.DASHBOARD.read_text())


def panel(title: str) -> dict:
    [found] = [p for p in DASHBOARD["panels"] if p["title"] == title]
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def source() -> Iterator[str]:
    """A /metrics with refresh lags observed all along (two reasons) and a backlog."""
    registry = CollectorRegistry()
    lag = Histogram("gurulu_refresh_lag_seconds", "lag", ["reason"], buckets=LAG_BUCKETS,
                    registry=registry)  # fmt: skip
    backlog = Gauge("gurulu_stream_backlog", "backlog", ["stream", "group"], registry=registry)
    backlog.labels("gurulu:audience:refresh", "evaluator").set(BACKLOG)
    server, _ = start_http_server(free_port(), addr="127.0.0.1", registry=registry)
    stop = threading.Event()

    def observe() -> None:
        while not stop.wait(0.1):
            lag.labels("hourly_tick").observe(0.3)
            lag.labels("manual").observe(4)

    worker = threading.Thread(target=observe, daemon=True)
    worker.start()
    yield f"127.0.0.1:{server.server_port}"
    stop.set()
    worker.join()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def prometheus(source: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PROMETHEUS.exists():
        pytest.skip(f"{PROMETHEUS} is not installed (scripts/test installs it with apt-get)")
    work = tmp_path_factory.mktemp("prometheus")
    config = work / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: source\n"
        f'    static_configs:\n      - targets: ["{source}"]\n'
    )
    url = f"127.0.0.1:{free_port()}"
    command = [str(PROMETHEUS), f"--config.file={config}", f"--web.listen-address={url}",
               f"--storage.tsdb.path={work / 'data'}"]  # fmt: skip
    with open(work / "log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_samples(f"http://{url}", 6)
        yield f"http://{url}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_samples(url: str, wanted: int) -> None:
    """Until Prometheus holds `wanted` scrapes of the source: enough for rate() windows."""
    deadline = time.monotonic() + 30
    query = {"query": "count_over_time(gurulu_stream_backlog[1m])"}
    while time.monotonic() < deadline:
        try:
            result = httpx.get(f"{url}/api/v1/query", params=query).json()["data"]["result"]
            if result and float(result[0]["value"][1]) >= wanted:
                return
        except (httpx.HTTPError, KeyError):
            pass
        time.sleep(0.5)
    raise AssertionError("Prometheus did not scrape the source in time")


def last_seconds(seconds: float) -> Any:
    now = time.time()
    return render.Window.over(now - seconds, now, scrape_interval=1)


def test_a_timeseries_panel_comes_back_as_series_named_by_each_target_s_legend(prometheus):
    client = render.Prometheus(prometheus)
    values = render.variables(DASHBOARD)  # the window at its default, 1h
    lag = panel("Refresh lag (request → done)")
    quantiles = render.evaluate(lag, client, last_seconds(30), values)
    assert quantiles.errors == ()
    assert [s.name for s in quantiles.series] == ["p50", "p95", "p99"]
    assert all(len(s.values()) >= 2 for s in quantiles.series)
    # Half the lags are 0.3 s, half 4 s: the median in the 0.25–0.5 s bucket, p99 in 2.5–5 s.
    p50, _, p99 = (s.values()[-1] for s in quantiles.series)
    assert 0.25 <= p50 <= 0.5 and 2.5 <= p99 <= 5

    by_reason = render.evaluate(
        panel("Refresh lag p95 by reason"), client, last_seconds(30), values
    )
    p95 = {s.name: s.values()[-1] for s in by_reason.series}
    assert p95.keys() == {"hourly_tick", "manual"}
    assert 0.25 <= p95["hourly_tick"] <= 0.5 and 2.5 <= p95["manual"] <= 5


def test_the_window_variable_sets_the_range_of_the_refresh_panels_queries(prometheus):
    client = render.Prometheus(prometheus)
    lag = panel("Refresh lag (request → done)")
    for chosen in ("5m", "3h"):
        values = render.variables(DASHBOARD, {"window": chosen})
        data = render.evaluate(lag, client, last_seconds(30), values)
        assert data.errors == () and [s.name for s in data.series] == ["p50", "p95", "p99"]
    # Left unexpanded, Prometheus refuses the query and the panel says so.
    unexpanded = render.evaluate(lag, client, last_seconds(30), {})
    assert unexpanded.series == () and "bad_data" in unexpanded.errors[0]


def test_dashboard_variables_take_their_current_value_unless_one_of_their_options_is_chosen():
    assert render.variables(DASHBOARD) == {"window": "1h"}
    assert render.variables(DASHBOARD, {"window": "15m"}) == {"window": "15m"}
    with pytest.raises(ValueError, match="5m, 15m, 1h, 3h"):
        render.variables(DASHBOARD, {"window": "7m"})
    with pytest.raises(ValueError, match="no variable"):
        render.variables(DASHBOARD, {"interval": "5m"})
    window = render.Window.over(0, 600, scrape_interval=5)
    expr = "rate(x[$window]) + rate(y[${window}]) + rate(z[$__rate_interval]) + $other"
    assert window.expand(expr, {"window": "1h"}) == (
        "rate(x[1h]) + rate(y[1h]) + rate(z[20s]) + $other"
    )


def test_the_page_shows_the_variables_values_where_grafana_has_its_pickers():
    empty = [render.PanelData()] * len(render.visible_panels(DASHBOARD))
    page = render.page_html(DASHBOARD, last_seconds(60), empty, 1200, {"window": "5m"})
    assert '<span class="variable"><b>Window</b>5m</span>' in page


def test_stat_panels_of_counts_show_whole_numbers():
    counts = [p for p in DASHBOARD["panels"] if p["type"] == "stat"]
    assert counts and all(p["fieldConfig"]["defaults"]["decimals"] == 0 for p in counts)
    box = render.place(panel("Ticks in the last 2h")["gridPos"], 1200)
    data = render.PanelData((render.Series("ticks", ((0.0, 16.2),)),))
    body = render.stat_body(panel("Ticks in the last 2h"), data, box)
    assert ">16<small>" in body and "16.2" not in body


def test_a_stat_panel_gets_one_value_at_the_end_of_the_window(prometheus):
    client = render.Prometheus(prometheus)
    data = render.evaluate(panel("Refresh backlog"), client, last_seconds(30))
    [series] = data.series
    assert series.values() == [BACKLOG]
    assert render.reduce(series, "lastNotNull") == BACKLOG


def test_a_panel_whose_metric_has_no_samples_says_no_data(prometheus):
    window = last_seconds(30)
    dead = panel("Dead letters (24h)")
    data = render.evaluate(dead, render.Prometheus(prometheus), window)
    assert data.series == () and data.errors == ()
    box = render.place(dead["gridPos"], 1200)
    assert "No data" in render.panel_html(dead, data, window, box)


def test_a_query_prometheus_refuses_is_shown_in_its_panel_rather_than_ending_the_render(
    prometheus,
):
    broken = {**panel("Refresh backlog"), "targets": [{"expr": "max(", "refId": "A"}]}
    window = last_seconds(30)
    data = render.evaluate(broken, render.Prometheus(prometheus), window)
    assert data.series == () and "A: bad_data" in data.errors[0]
    assert "bad_data" in render.panel_html(
        broken, data, window, render.place(broken["gridPos"], 1200)
    )


def test_the_whole_dashboard_renders_to_one_self_contained_page(prometheus):
    window = last_seconds(30)
    page = render.render(DASHBOARD, render.Prometheus(prometheus), window, 1600)
    assert page.count('class="panel ') == sum(p["type"] != "row" for p in DASHBOARD["panels"])
    assert page.count("<svg") == 3  # lag quantiles, lag by reason, backlog: what the source has
    assert "http://" not in page and "<script" not in page


def test_panels_are_placed_on_grafana_s_24_column_grid_with_30_px_rows_and_8_px_gutters():
    width = 24 * 50 + 23 * 8  # 50 px columns
    assert render.place({"x": 0, "y": 0, "w": 24, "h": 1}, width) == render.Box(0, 0, width, 30)
    assert render.place({"x": 12, "y": 4, "w": 12, "h": 8}, width) == render.Box(
        12 * 58, 4 * 38, 12 * 50 + 11 * 8, 8 * 30 + 7 * 8
    )
    assert render.place({"x": 6, "y": 0, "w": 6, "h": 4}, width).left == 6 * 58


def test_the_dashboard_s_panels_tile_the_page_without_overlapping():
    placed, height = render.layout(render.visible_panels(DASHBOARD), 1568)
    assert height == max(box.top + box.height for _, box in placed)
    for (first, a), (second, b) in ((x, y) for i, x in enumerate(placed) for y in placed[i + 1 :]):
        apart = (
            a.left + a.width <= b.left or b.left + b.width <= a.left
            or a.top + a.height <= b.top or b.top + b.height <= a.top
        )  # fmt: skip
        assert apart, (first["title"], second["title"])
    assert all(box.left + box.width <= 1568 + 1e-9 for _, box in placed)
    [(row, box)] = [(p, b) for p, b in placed if p["type"] == "row"]
    assert (row["title"], box.left, box.width) == ("Destinations", 0, 1568)


def test_grafana_s_interval_variables_follow_the_step_and_the_scrape_interval():
    short = render.Window.over(0, 600, scrape_interval=5)
    assert (short.step, short.rate_interval) == (5, 20)  # four scrapes
    day = render.Window.over(0, 86400, scrape_interval=15)
    assert day.step == 216 and day.rate_interval == 231  # step + one scrape
    expr = "rate(x[$__rate_interval]) / $__interval * $__range"
    assert short.expand(expr) == "rate(x[20s]) / 5s * 600s"


def test_values_are_written_in_each_panel_s_unit():
    cases = [
        (0.0042, "s", "4.2 ms"), (0.25, "s", "250 ms"), (1.5, "s", "1.5 s"), (90, "s", "1.5 min"),
        (0, "s", "0 s"), (0.573, "reqps", "0.573 req/s"), (1500, "short", "1.5 K"),
        (12, "short", "12"), (2.5e6, None, "2.5 Mil"),
    ]  # fmt: skip
    assert [render.format_value(v, unit) for v, unit, _ in cases] == [text for *_, text in cases]
    assert render.format_value(16.2, "short", decimals=0) == "16"
    assert render.format_value(0.25, "s", decimals=0) == "250 ms"  # decimals of the scaled unit
    assert render.nice_ticks(0, 0.9) == [0, 0.25, 0.5, 0.75, 1]


def test_series_are_named_by_legend_format_else_by_their_labels():
    labels = {"__name__": "up", "route": "/v1/events", "status": "404"}
    assert render.legend_name("{{route}} {{ status }}", labels, "e") == "/v1/events 404"
    assert render.legend_name(None, labels, "e") == 'up{route="/v1/events", status="404"}'
    assert render.legend_name("", {}, "sum(x)") == "sum(x)"


def test_a_nan_or_a_missing_step_breaks_the_line():
    points = [(0, 1.0), (5, 2.0), (10, None), (15, 3.0), (20, 4.0), (40, 5.0)]
    assert render.runs(points, step=5) == [
        [(0, 1.0), (5, 2.0)],
        [(15, 3.0), (20, 4.0)],
        [(40, 5.0)],
    ]


@pytest.mark.skipif(not render.CHROMIUM.exists(), reason="chromium is not installed")
def test_the_page_is_screenshotted_with_debian_s_chromium(tmp_path):
    empty = [render.PanelData()] * len(render.visible_panels(DASHBOARD))
    page = render.page_html(DASHBOARD, last_seconds(60), empty, 1200)
    render.screenshot(page, tmp_path / "dashboard.png", 1200)
    assert (tmp_path / "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
