// Shared by every page: messages, the API key (sessionStorage, this tab only), API calls, sign-in.
// A page script waits for `BT.ready` (a Promise of the signed-in participant) and then draws itself.
"use strict";

const BT = (() => {
  const KEY_STORAGE = "batterytrace.apiKey";
  const messages = JSON.parse(document.getElementById("bt-messages").textContent);
  const lang = document.documentElement.lang || "zh";

  /** One message with its {placeholders} filled; the key itself where it is missing. */
  function t(key, values = {}) {
    const template = messages[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }

  /** Fill every element marked data-i18n (text) or data-i18n-placeholder / -title / -aria-label. */
  function translate(root = document) {
    root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    for (const attr of ["placeholder", "title", "aria-label"]) {
      root.querySelectorAll(`[data-i18n-${attr}]`).forEach((el) => {
        el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
      });
    }
  }

  /** An API refusal: the RFC 9457 problem body the server sent, or a network failure (status 0). */
  class ApiError extends Error {
    constructor(status, problem) {
      super(problem?.detail || problem?.title || t("error.unreachable"));
      this.status = status;
      this.problem = problem || {};
    }
    get unreachable() { return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504; }
  }

  function apiKey() { return sessionStorage.getItem(KEY_STORAGE); }

  /** Call the JSON API with the signed-in key. Throws ApiError on a refusal or no connection. */
  async function api(method, path, { body, query, headers = {}, raw = false } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const key = apiKey();
    const options = { method, headers: { Accept: "application/json", ...headers } };
    if (key) options.headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (networkError) {
      throw new ApiError(0, null);
    }
    if (!response.ok) {
      let problem = null;
      try { problem = await response.json(); } catch (notJson) { /* a proxy's error page */ }
      throw new ApiError(response.status, problem);
    }
    if (raw) return response;
    return response.status === 204 ? null : response.json();
  }

  function show(el, visible) { el.hidden = !visible; }

  /** Sign in with the key in the form, or with the one this tab already holds. */
  async function signIn() {
    const form = document.getElementById("bt-signin-form");
    const error = document.getElementById("bt-signin-error");
    const app = document.getElementById("bt-app");
    const panel = document.getElementById("bt-signin");
    const who = document.getElementById("bt-who");
    const out = document.getElementById("bt-signout");
    out.addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      window.location.reload();
    });
    const me = async () => {
      const participant = await api("GET", "/api/v1/me");
      who.textContent = t("signin.as", { name: participant.name });
      show(who, true); show(out, true); show(panel, false); show(app, true);
      return participant;
    };
    if (apiKey()) {
      try { return await me(); } catch (refused) {
        if (!refused.unreachable) sessionStorage.removeItem(KEY_STORAGE);
        else { show(error, true); error.textContent = refused.message; }
      }
    }
    show(panel, true);
    return new Promise((resolve) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const key = form.elements.key.value.trim();
        sessionStorage.setItem(KEY_STORAGE, key);
        try {
          const participant = await me();
          form.reset();
          show(error, false);
          resolve(participant);
        } catch (refused) {
          sessionStorage.removeItem(KEY_STORAGE);
          error.textContent = t("signin.failed", { reason: refused.message });
          show(error, true);
        }
      });
    });
  }

  /** Text that would start a spreadsheet formula (OWASP "CSV injection": = + - @ tab CR) gets a
   * leading apostrophe, shown as plain text; numbers, and text that is a plain number such as
   * -3.5, stay as they are. The same rule as the API's CSV (batterytrace/trace/tabular.py). */
  function formulaSafe(value) {
    const text = String(value);
    if (typeof value === "number" || !/^[=+\-@\t\r]/.test(text)) return text;
    return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text) ? text : `'${text}`;
  }

  /** A table's rows as a CSV file download (for tables drawn from API data). */
  function downloadCsv(filename, columns, rows) {
    const cell = (value) => {
      const text = value === null || value === undefined ? "" : formulaSafe(value);
      return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    };
    const lines = [columns.map(cell).join(","), ...rows.map((row) => columns.map((c) => cell(row[c])).join(","))];
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function escapeHtml(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  const ready = new Promise((resolve) => {
    document.addEventListener("DOMContentLoaded", () => {
      translate();
      resolve(signIn());
    });
  }).then((p) => p);

  return { t, translate, api, ApiError, apiKey, ready, downloadCsv, formulaSafe, escapeHtml, lang, show };
})();
