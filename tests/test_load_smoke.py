"""The load benchmark's short version (benchmarks/load.py): concurrent clients against the real
app over the seed index, through the HTTP API and the Gradio queue. No timing is asserted: only
that nothing failed and the server still answers correctly afterwards."""

import httpx

from benchmarks.load import gradio_load, http_load, questions
from tests.browser_tools import serving


def test_concurrent_clients_get_no_errors_and_the_server_stays_up(seed_index):
    mix = questions()
    with serving(seed_index) as url:
        http = http_load(url, None, clients=8, seconds=5, max_requests=400, mix=mix)
        gradio = gradio_load(url, None, clients=2, requests=2, mix=mix)
        assert httpx.get(url + "/api/health", timeout=60).json()["status"] == "ok"
        after = httpx.post(url + "/api/ask", json={"question": mix[1], "k": 3}, timeout=120)
    assert http.errors == 0, http.first_errors
    assert http.requests > 0
    assert gradio.errors == 0 and gradio.requests == 4, gradio.first_errors
    assert after.json() == seed_index.ask(mix[1], k=3).to_dict()
