"""The web pages: the outlet's scanning page, the regulator's dashboard and the shared pieces
(language choice, page shells, static assets).

Pages are plain HTML shells with a little JavaScript that calls the same JSON API the
participants' programs use, with the API key the user typed kept in the browser session
(``sessionStorage``), never in a URL. Browser libraries (ECharts, zxing-wasm) are vendored under
``static/vendor`` by ``scripts/vendor-assets`` with their licences, so the pages need no build step
and no internet access.
"""
