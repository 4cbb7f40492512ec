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

  /** A domain word as a message-key segment ("hand over" -> "hand_over"). */
  const keyOf = (value) => String(value).replace(/[ -]/g, "_").replace(/'/g, "");

  /** A domain word in this page's language (prefix.word), or the word itself. */
  function word(prefix, value) {
    const key = `${prefix}.${keyOf(value)}`;
    const text = t(key);
    return text === key ? String(value) : text;
  }

  /** A problem's params as its message shows them: domain words translated (the same rules as
   * batterytrace/trace/pages/problem_text.py, which renders the public error pages). */
  function problemValues(params = {}) {
    const separator = t("problem.list_separator");
    const shown = {};
    for (const [name, value] of Object.entries(params || {})) {
      if (name === "state") shown.state = word("public.state", value);
      else if (name === "action") {
        shown.action = word("problem.action", value);
        shown.verb = word("problem.verb", value);
      } else if (name === "allowed") {
        shown.allowed = (value || []).map((a) => word("problem.verb", a)).join(separator) || t("problem.allowed.none");
      } else if (name === "segment") shown.segment = word("problem.segment", value);
      else if (name === "roles") shown.roles = (value || []).map((r) => word("problem.role", r)).join(separator);
      else shown[name] = String(value);
    }
    return shown;
  }

  /** A refusal in this page's language: the problem's message key (`code`) with its params, the
   * server's English `detail` where this page has no message for the code. An English page shows
   * the detail word for word (the API's own sentence, as in the server's log). */
  function problemText(problem) {
    if (!problem) return t("error.unreachable");
    const fallback = problem.detail || problem.title || t("error.unreachable");
    if (!problem.code || lang === "en") return fallback;
    const key = `problem.${problem.code}`;
    const template = messages[key];
    if (template === undefined) return fallback;
    const values = problemValues(problem.params);
    const missing = [...template.matchAll(/\{(\w+)\}/g)].some(([, name]) => !(name in values));
    return missing ? fallback : t(key, values);
  }

  /** An API refusal: the RFC 9457 problem body the server sent, or a network failure (status 0).
   * Its message is in the page's language where the problem carries a known code. */
  class ApiError extends Error {
    constructor(status, problem) {
      super(problemText(problem));
      this.status = status;
      this.problem = problem || {};
    }
    get unreachable() { return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504; }
  }

  function apiKey() { return sessionStorage.getItem(KEY_STORAGE); }

  /** A name for this page: the English one on English pages where there is one, else the
   * registered (Chinese) name. ``field`` names a record's name field ("manufacturer_name"); its
   * English twin is the same field with "_en" (participants, collection points, report rows). */
  function nameOf(record, field = "name") {
    return (lang === "en" && record?.[`${field}_en`]) || record?.[field] || "";
  }

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
      who.textContent = t("signin.as", { name: nameOf(participant) });
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

  /** A table's rows as a CSV file download (for tables drawn from API data); ``header`` is the
   * header row's words (the page's language), the column keys where not given. */
  function downloadCsv(filename, columns, rows, header = columns) {
    const cell = (value) => {
      const text = value === null || value === undefined ? "" : formulaSafe(value);
      return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    };
    const lines = [header.map(cell).join(","), ...rows.map((row) => columns.map((c) => cell(row[c])).join(","))];
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  const CHINA_OFFSET_MS = 8 * 3600 * 1000; // China Standard Time, UTC+8, no daylight saving

  /** A time as every page shows it: China Standard Time to the minute, with the zone named in
   * the page's language ("2025-09-30 11:28 北京时间", "2025-09-30 11:28 CST (UTC+8)"), so that a
   * time the API gives in UTC never reads as a Beijing time. A time without a zone is already
   * China Standard Time (the platform's convention for input); text that is no time shows as
   * it is. The same convention as batterytrace/events/zone.py. */
  function when(value) {
    if (value === null || value === undefined || value === "") return "";
    const text = String(value);
    const zoned = /([zZ]|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}+08:00`;
    const moment = new Date(zoned);
    if (!/\d[T ]\d/.test(text) || Number.isNaN(moment.getTime())) return text;
    const shown = new Date(moment.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 16).replace("T", " ");
    return `${shown}\u00a0${t("time.zone")}`;
  }

  /** ``when`` as a <time> element that keeps to one line, its instant in ``datetime``. */
  function timeHtml(value) {
    const shown = when(value);
    return shown ? `<time class="nowrap" datetime="${escapeHtml(value)}">${escapeHtml(shown)}</time>` : "";
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

  /** A count with its noun in this page's language: `key.one` / `key.other` by the language's
   * plural rules ("1 battery", "3 batteries"; Chinese has one form, "3 块电池"). */
  function plural(key, count, values = {}) {
    const form = new Intl.PluralRules(lang === "zh" ? "zh-CN" : "en").select(count);
    const chosen = messages[`${key}.${form}`] !== undefined ? `${key}.${form}` : `${key}.other`;
    return t(chosen, { count, ...values });
  }

  return {
    t, translate, api, ApiError, apiKey, ready, downloadCsv, formulaSafe, escapeHtml, lang, show,
    problemText, word, plural, nameOf, when, timeHtml,
  };
})();
