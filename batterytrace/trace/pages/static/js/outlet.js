// The outlet's page: take batteries in by camera, photo or typed code, queue scans while the server
// cannot be reached, and hand the batteries on hand over to a recycler or cascade-use enterprise.
//
// A scan carries the browser's own id (client_scan_id): a queued scan replayed after an outage, or a
// scan whose answer was lost, is answered again by the server instead of being recorded twice. The
// queue lives in localStorage (per signed-in participant), so a reload or a crash does not lose it.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const WASM = "/static/vendor/zxing-wasm/zxing_reader.wasm";
  const SCAN_EVERY_MS = 250; // camera frames decoded per second: 4, enough for a label held still
  const SAME_CODE_MS = 10 * 60 * 1000; // a label the camera keeps seeing is scanned once
  const RETRY_MS = 4000; // queued scans are retried this often (and at once on the `online` event)
  const BATCH_MAX = 500; // scans or batteries per request: the server's bound for one transaction
  const HISTORY = 20;
  const POINT_STORAGE = "batterytrace.outlet.point";

  const state = {
    me: null,
    points: [],
    point: null,
    queue: [],
    flushing: false,
    seen: new Map(), // camera text -> when it was last sent
    receivers: [],
    onHand: [],
    stream: null,
    timer: null,
    lastWrite: undefined, // notification id of this page's last write: reads wait for it (?after=)
  };

  /** Remember the store position of a write, so the next read of the views includes it. */
  function wrote(answer) {
    const id = answer?.notification_id;
    if (Number.isInteger(id) && !(id <= state.lastWrite)) state.lastWrite = id;
  }

  // ---------------------------------------------------------------------------------- helpers
  /** A v4 UUID; crypto.randomUUID exists only on secure origins (HTTPS, localhost). */
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** The battery code in what a scanner read (the resolver URL …/b/CODE or the bare code), for
   * showing a refused or queued scan; the server decides what the text really says. */
  function codeOf(text) {
    const found = /(?:\/b\/)?([0-9A-Za-z]{24})\/?(?:[?#].*)?$/.exec(String(text).trim());
    return found ? found[1].toUpperCase() : null;
  }

  function esc(text) { return BT.escapeHtml(text); }

  /** Why the server refused, in the page's language (its English detail for an unknown code). */
  function reason(error) {
    if (error.unreachable && !error.problem?.code) return BT.t("error.unreachable");
    return BT.problemText(error.problem) || error.message;
  }

  /** The API's language-neutral values in the page's words: "pack" -> 电池包, the chemistry by
   * the battery-type letter at position 5 of the code, "collected" -> 已收集入库. */
  const words = {
    level: (value) => value && BT.word("public.level", value),
    chemistry: (code, value) => {
      const letter = code && code.length === 24 ? code[4] : null;
      const key = `public.chemistry.${letter}`;
      return letter && BT.t(key) !== key ? BT.t(key) : value;
    },
    state: (value) => value && BT.word("public.state", value),
    condition: (value) => value && BT.word("outlet.condition", value),
  };

  function setStatus(el, text, kind = "") {
    el.textContent = text;
    el.className = `ol-status ${kind}`.trim();
  }

  // ------------------------------------------------------------------------------ the points
  async function loadPoints() {
    const answer = await BT.api("GET", "/api/v1/me/collection-points");
    state.points = answer.items;
    const select = $("ol-point");
    select.innerHTML = state.points
      .map((p) => `<option value="${esc(p.id)}">${esc(BT.nameOf(p))} · ${esc(p.id)}</option>`)
      .join("");
    BT.show($("ol-no-points"), state.points.length === 0);
    const remembered = localStorage.getItem(POINT_STORAGE);
    if (state.points.some((p) => p.id === remembered)) select.value = remembered;
    choosePoint(select.value);
  }

  function choosePoint(id) {
    state.point = state.points.find((p) => p.id === id) || null;
    if (state.point) localStorage.setItem(POINT_STORAGE, state.point.id);
    if (!$("ol-handover").hidden) loadOnHand();
  }

  // ----------------------------------------------------------------------------------- scans
  function scanPath(pointId) { return `/api/v1/collection-points/${encodeURIComponent(pointId)}/scans`; }

  /** Send one scan: show the battery taken in, or why not; queue it when the server is away. */
  async function scan(text, how) {
    text = String(text || "").trim();
    if (!text) return;
    if (!state.point) {
      showOutcome({ verdict: "refused", code: codeOf(text), reason: BT.t("outlet.no_points") });
      return;
    }
    const entry = {
      client_scan_id: uuid(),
      text,
      point: state.point.id,
      condition: $("ol-condition").value,
      scanned_at: new Date().toISOString(),
      how,
    };
    const outcome = await send(entry, false);
    if (outcome === "unreachable") {
      enqueue(entry);
      showOutcome({ verdict: "queued", code: codeOf(text), text, reason: BT.t("outlet.result.queued_why") });
    }
  }

  /** "done" once the server has answered (taken in or refused), "unreachable" otherwise. */
  async function send(entry, replay) {
    const body = {
      text: entry.text,
      client_scan_id: entry.client_scan_id,
      condition: entry.condition,
      scanned_by: `outlet page (${entry.how})`,
    };
    // A queued scan happened when it was made, not when the server came back.
    if (replay) body.occurred_at = entry.scanned_at;
    try {
      const answer = await BT.api("POST", scanPath(entry.point), { body });
      showTaken(answer, replay);
      return "done";
    } catch (error) {
      if (!(error instanceof BT.ApiError)) throw error;
      if (error.unreachable) return "unreachable";
      await showRefused(entry.text, error, replay);
      return "done";
    }
  }

  function showTaken(answer, replay) {
    wrote(answer);
    showOutcome({
      verdict: answer.replayed ? "again" : "taken",
      code: answer.code,
      level: answer.level,
      chemistry: answer.chemistry,
      maker: BT.nameOf(answer.maker),
      point: BT.nameOf(answer.collection_point),
      at: answer.collected_at,
      mass: answer.mass_kg,
      condition: answer.condition,
      replay,
    });
  }

  /** A refusal shows the battery too (its public page), so the operator sees what was refused. */
  async function showRefused(text, error, replay) {
    const code = codeOf(text);
    let battery = null;
    if (code) {
      try { battery = (await BT.api("GET", `/api/v1/batteries/${code}`)).battery; } catch (unknown) { /* not recorded */ }
    }
    showOutcome({
      verdict: "refused",
      code: battery?.code || code || text,
      level: battery?.level,
      chemistry: battery?.chemistry,
      maker: BT.nameOf(battery, "manufacturer_name"),
      state: battery?.state,
      reason: reason(error),
      replay,
    });
  }

  const VERDICT = {
    taken: ["ok", "outlet.result.taken"],
    again: ["ok", "outlet.result.again"],
    refused: ["bad", "outlet.result.refused"],
    queued: ["warn", "outlet.result.queued"],
  };

  function showOutcome(o) {
    const [kind, key] = VERDICT[o.verdict];
    const facts = [
      ["outlet.battery.code", o.code && `<span class="code">${esc(o.code)}</span>`],
      ["outlet.battery.level", o.level && esc(words.level(o.level))],
      ["outlet.battery.chemistry", o.chemistry && esc(words.chemistry(o.code, o.chemistry))],
      ["outlet.battery.maker", o.maker && esc(o.maker)],
      ["outlet.battery.state", o.state && esc(words.state(o.state))],
      ["outlet.result.point", o.point && esc(o.point)],
      ["outlet.result.at", o.at && BT.timeHtml(o.at)],
      ["outlet.battery.mass", o.mass && esc(`${o.mass} kg`)],
      ["outlet.condition", o.condition && esc(words.condition(o.condition))],
    ].filter(([, value]) => value);
    const replayed = o.replay ? `<small>${esc(BT.t("outlet.result.from_queue"))}</small>` : "";
    $("ol-result").innerHTML = `
      <div class="ol-outcome ${kind}" data-verdict="${o.verdict}">
        <p class="ol-verdict">${esc(BT.t(key))}</p>${replayed}
        <dl>${facts.map(([label, value]) => `<dt>${esc(BT.t(label))}</dt><dd>${value}</dd>`).join("")}</dl>
        ${o.reason ? `<p class="ol-reason ${kind === "bad" ? "error" : "warn"}">${esc(o.reason)}</p>` : ""}
      </div>`;
    const item = document.createElement("li");
    item.className = kind;
    item.dataset.verdict = o.verdict;
    item.innerHTML = `<span class="badge ${kind}">${esc(BT.t(key))}</span> <span class="code">${esc(o.code || "")}</span>` +
      (o.reason ? ` <small>${esc(o.reason)}</small>` : "");
    const history = $("ol-history");
    history.prepend(item);
    while (history.children.length > HISTORY) history.lastElementChild.remove();
  }

  // ------------------------------------------------------------------------------ the queue
  function queueKey() { return `batterytrace.outlet.queue.${state.me.credit_code}`; }

  function loadQueue() {
    try { state.queue = JSON.parse(localStorage.getItem(queueKey()) || "[]"); } catch (broken) { state.queue = []; }
    if (!Array.isArray(state.queue)) state.queue = [];
  }

  function saveQueue() {
    localStorage.setItem(queueKey(), JSON.stringify(state.queue));
    renderQueue();
  }

  function enqueue(entry) {
    loadQueue(); // another tab of the same outlet may have changed it
    state.queue.push(entry);
    saveQueue();
  }

  function renderQueue(status) {
    const count = state.queue.length;
    $("ol-queue-count").textContent = String(count);
    $("ol-queue-card").classList.toggle("waiting", count > 0);
    $("ol-queue-list").innerHTML = state.queue
      .map((e) => `<li data-scan-id="${esc(e.client_scan_id)}"><span class="code">${esc(codeOf(e.text) || e.text)}</span>
        <small>${BT.timeHtml(e.scanned_at)} · ${esc(e.point)}</small></li>`)
      .join("");
    BT.show($("ol-queue-send"), count > 0);
    setStatus(
      $("ol-queue-status"),
      status || (count ? BT.plural("outlet.queue.waiting", count, { seconds: RETRY_MS / 1000 }) : BT.t("outlet.queue.empty")),
      count ? "warn" : "",
    );
  }

  /** Replay the queued scans in order, a batch per point (one request, one transaction: all taken
   * in or none), until the server cannot be reached. A refused batch says which scans were refused:
   * those are shown and dropped, the rest is sent again at once. */
  async function flush() {
    if (state.flushing) return;
    loadQueue();
    if (!state.queue.length) { renderQueue(); return; }
    state.flushing = true;
    try {
      while (state.queue.length) {
        const point = state.queue[0].point;
        const batch = [];
        for (const e of state.queue) {
          if (e.point !== point || batch.length === BATCH_MAX) break;
          batch.push(e);
        }
        const done = await sendBatch(point, batch);
        if (done === null) {
          renderQueue(BT.plural("outlet.queue.still_unreachable", state.queue.length, { seconds: RETRY_MS / 1000 }));
          return;
        }
        loadQueue();
        state.queue = state.queue.filter((e) => !done.has(e.client_scan_id));
        saveQueue();
      }
    } finally {
      state.flushing = false;
    }
  }

  /** Send queued scans of one point together; the ids of those answered (taken in, or refused),
   * or null when the server cannot be reached. */
  async function sendBatch(point, entries) {
    const scans = entries.map((e) => ({
      text: e.text,
      client_scan_id: e.client_scan_id,
      condition: e.condition,
      scanned_by: `outlet page (${e.how})`,
      occurred_at: e.scanned_at, // a queued scan happened when it was made, not when the server came back
    }));
    const byId = new Map(entries.map((e) => [e.client_scan_id, e]));
    try {
      const answer = await BT.api("POST", `${scanPath(point)}/batch`, { body: { scans } });
      wrote(answer);
      const where = BT.nameOf(state.points.find((p) => p.id === point)) || point;
      for (const item of answer.items) {
        showOutcome({
          verdict: item.result === "replayed" ? "again" : "taken",
          code: item.code,
          state: item.state,
          point: where,
          at: item.collected_at,
          mass: item.mass_kg,
          replay: true,
        });
      }
      return new Set(byId.keys());
    } catch (error) {
      if (!(error instanceof BT.ApiError)) throw error;
      if (error.unreachable) return null;
      const refused = (error.problem?.items || []).filter((i) => i.result === "refused" && byId.has(i.client_scan_id));
      if (!refused.length) {
        // Refused as a whole (the point, the key): every scan is told so and dropped, as one alone would be.
        for (const e of entries) await showRefused(e.text, error, true);
        return new Set(byId.keys());
      }
      for (const item of refused) {
        await showRefused(byId.get(item.client_scan_id).text, new BT.ApiError(item.problem.status, item.problem), true);
      }
      return new Set(refused.map((item) => item.client_scan_id));
    }
  }

  // ----------------------------------------------------------------------------- decoding
  ZXingWASM.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM : prefix + path) },
  });

  /** The QR text in an image (ImageData or a photo Blob), or null. */
  async function decode(image) {
    const results = await ZXingWASM.readBarcodes(image, { formats: ["QRCode"], maxNumberOfSymbols: 1, tryHarder: true });
    const found = results.find((r) => r.isValid && r.text);
    return found ? found.text : null;
  }

  // ------------------------------------------------------------------------------- camera
  async function startCamera() {
    const status = $("ol-camera-status");
    if (!navigator.mediaDevices?.getUserMedia) {
      setStatus(status, BT.t(window.isSecureContext ? "outlet.camera.none" : "outlet.camera.insecure"), "warn");
      return;
    }
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (error) {
      setStatus(status, BT.t("outlet.camera.failed", { reason: error.name || error.message }), "warn");
      return;
    }
    const video = $("ol-video");
    video.srcObject = state.stream;
    BT.show(video, true);
    BT.show($("ol-camera-start"), false);
    BT.show($("ol-camera-stop"), true);
    setStatus(status, BT.t("outlet.camera.scanning"));
    try { await video.play(); } catch (interrupted) { /* stopped before it started */ }
    tick();
  }

  function stopCamera() {
    clearTimeout(state.timer);
    if (state.stream) state.stream.getTracks().forEach((track) => track.stop());
    state.stream = null;
    const video = $("ol-video");
    video.srcObject = null;
    BT.show(video, false);
    BT.show($("ol-camera-start"), true);
    BT.show($("ol-camera-stop"), false);
    setStatus($("ol-camera-status"), "");
  }

  /** Decode one frame, then schedule the next: never two decodes at once on a slow phone. */
  async function tick() {
    if (!state.stream) return;
    const video = $("ol-video");
    if (video.readyState >= 2 && video.videoWidth) {
      const canvas = $("ol-canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0);
      try {
        const text = await decode(context.getImageData(0, 0, canvas.width, canvas.height));
        if (text) cameraRead(text);
      } catch (error) {
        setStatus($("ol-camera-status"), BT.t("outlet.decoder.failed", { reason: error.message }), "warn");
      }
    }
    if (state.stream) state.timer = setTimeout(tick, SCAN_EVERY_MS);
  }

  function cameraRead(text) {
    const now = Date.now();
    const last = state.seen.get(text);
    if (last && now - last < SAME_CODE_MS) return;
    state.seen.set(text, now);
    setStatus($("ol-camera-status"), BT.t("outlet.camera.read", { code: codeOf(text) || text }));
    scan(text, "camera");
  }

  // -------------------------------------------------------------------------------- photo
  /** Read the QR code here (works offline, then the scan can be queued); a photo this cannot
   * read (a Data Matrix, a blurred label) goes to the server, which tries harder. */
  async function photo(file) {
    const status = $("ol-camera-status");
    setStatus(status, BT.t("outlet.photo.reading"));
    let text = null;
    try { text = await decode(file); } catch (unreadable) { text = null; }
    setStatus(status, "");
    if (text) return scan(text, "photo");
    if (!state.point) return scan(file.name, "photo");
    const form = new FormData();
    form.append("photo", file, file.name);
    form.append("client_scan_id", uuid());
    form.append("condition", $("ol-condition").value);
    form.append("scanned_by", "outlet page (photo)");
    let response;
    try {
      response = await fetch(scanPath(state.point.id), {
        method: "POST",
        body: form,
        headers: { Accept: "application/json", Authorization: `Bearer ${BT.apiKey()}` },
      });
    } catch (offline) {
      showOutcome({ verdict: "refused", code: file.name, reason: BT.t("outlet.photo.offline") });
      return undefined;
    }
    if (response.ok) {
      showTaken(await response.json(), false);
      return undefined;
    }
    let problem = null;
    try { problem = await response.json(); } catch (notJson) { /* a proxy's page */ }
    const error = new BT.ApiError(response.status, problem);
    if (error.unreachable) showOutcome({ verdict: "refused", code: file.name, reason: BT.t("outlet.photo.offline") });
    else showOutcome({ verdict: "refused", code: file.name, reason: reason(error) });
    return undefined;
  }

  // ----------------------------------------------------------------------------- handover
  async function loadOnHand() {
    const status = $("ol-onhand-status");
    const body = $("ol-onhand").querySelector("tbody");
    if (!state.point) { body.innerHTML = ""; setStatus(status, BT.t("outlet.no_points"), "error"); return; }
    setStatus(status, BT.t("outlet.loading"));
    try {
      // Every battery the point holds: a page holds at most 1000, `next` names the following one.
      let page = await BT.api("GET", `/api/v1/collection-points/${encodeURIComponent(state.point.id)}/batteries`, {
        query: { after: state.lastWrite, limit: 1000 },
      });
      const onHand = [...page.items];
      while (page.next) {
        page = await BT.api("GET", page.next);
        onHand.push(...page.items);
      }
      state.onHand = onHand;
    } catch (error) {
      setStatus(status, reason(error), "error");
      return;
    }
    body.innerHTML = state.onHand
      .map((b) => `<tr>
        <td><input type="checkbox" name="code" value="${esc(b.code)}" aria-label="${esc(b.code)}"></td>
        <td class="code">${esc(b.code)}</td><td>${esc(words.level(b.level))}</td><td>${esc(words.chemistry(b.code, b.chemistry))}</td>
        <td>${esc(BT.nameOf(b, "manufacturer_name") || b.manufacturer_id)}</td><td class="num">${esc(b.mass_kg)}</td><td>${BT.timeHtml(b.collected_at)}</td>
      </tr>`)
      .join("");
    setStatus(status, state.onHand.length ? BT.plural("outlet.handover.count", state.onHand.length) : BT.t("outlet.handover.none"));
    updateHandover();
  }

  async function loadReceivers() {
    try {
      state.receivers = (await BT.api("GET", "/api/v1/receivers")).items;
    } catch (error) {
      setStatus($("ol-receiver-status"), reason(error), "error");
      return;
    }
    renderReceivers();
  }

  function renderReceivers() {
    const activity = $("ol-activity").value;
    const select = $("ol-receiver");
    const chosen = select.value;
    const fitting = state.receivers.filter((r) => r.activities.includes(activity));
    select.innerHTML = `<option value="">${esc(BT.t("outlet.handover.choose"))}</option>` + fitting
      .map((r) => {
        const mark = r.whitelisted_for.includes(activity) ? "outlet.receiver.whitelisted" : "outlet.receiver.not_whitelisted";
        return `<option value="${esc(r.credit_code)}">${esc(BT.nameOf(r))} · ${esc(BT.t(mark))}</option>`;
      })
      .join("");
    if (fitting.some((r) => r.credit_code === chosen)) select.value = chosen;
    updateHandover();
  }

  function selectedCodes() {
    return Array.from($("ol-onhand").querySelectorAll("input[name=code]:checked"), (box) => box.value);
  }

  /** The receiver's whitelist status for the activity, and the button saying what it will do. */
  function updateHandover() {
    const activity = $("ol-activity").value;
    const receiver = state.receivers.find((r) => r.credit_code === $("ol-receiver").value);
    const status = $("ol-receiver-status");
    const activityName = BT.t(`outlet.activity.${activity}`);
    if (!receiver) setStatus(status, "");
    else if (receiver.whitelisted_for.includes(activity)) {
      setStatus(status, BT.t("outlet.receiver.ok", { name: BT.nameOf(receiver), activity: activityName }), "ok");
    } else {
      setStatus(status, BT.t("outlet.receiver.warning", { name: BT.nameOf(receiver), activity: activityName }), "warn");
    }
    const count = selectedCodes().length;
    const button = $("ol-handover-submit");
    button.textContent = BT.plural("outlet.handover.submit", count);
    button.disabled = count === 0 || !receiver;
  }

  async function handOver(event) {
    event.preventDefault();
    const codes = selectedCodes();
    const receiverId = $("ol-receiver").value;
    const activity = $("ol-activity").value;
    if (!codes.length || !receiverId) return;
    const button = $("ol-handover-submit");
    button.disabled = true;
    const lines = [];
    const receiver = state.receivers.find((r) => r.credit_code === receiverId);
    // The receiver's whitelist status is said from what this page knows (name, activity, today);
    // the answer's `warning` is the server's English sentence, shown only for a receiver it lacks.
    const flagged = (answer) => (receiver
      ? BT.t("outlet.handover.not_whitelisted", { name: BT.nameOf(receiver), activity: BT.t(`outlet.activity.${activity}`) })
      : answer.warning || "");
    // One request (one transaction: all handed over or none) per BATCH_MAX batteries.
    for (let start = 0; start < codes.length; start += BATCH_MAX) {
      const chunk = codes.slice(start, start + BATCH_MAX);
      try {
        const answer = await BT.api("POST", `/api/v1/collection-points/${encodeURIComponent(state.point.id)}/handovers`, {
          body: { codes: chunk, receiver_id: receiverId, activity, request_id: uuid() },
        });
        wrote(answer);
        for (const item of answer.items) {
          lines.push(item.compliant
            ? { kind: "ok", code: item.code, text: BT.t("outlet.handover.done") }
            : { kind: "warn", code: item.code, text: BT.t("outlet.handover.done_flagged", { warning: flagged(item) }) });
        }
      } catch (error) {
        if (!(error instanceof BT.ApiError)) throw error;
        const items = error.problem?.items;
        for (const [index, code] of chunk.entries()) {
          const item = Array.isArray(items) ? items[index] : null;
          const why = item?.problem ? reason(new BT.ApiError(item.problem.status, item.problem)) : reason(error);
          lines.push(item && item.result === "not_stored"
            ? { kind: "warn", code, text: BT.t("outlet.handover.not_stored") }
            : { kind: "bad", code, text: BT.t("outlet.handover.refused", { reason: why }) });
        }
      }
    }
    $("ol-handover-result").innerHTML = `<ul class="ol-list">${lines
      .map((l) => `<li class="${l.kind}" data-code="${esc(l.code)}"><span class="code">${esc(l.code)}</span> <span class="badge ${l.kind}">${esc(l.text)}</span></li>`)
      .join("")}</ul>`;
    await loadOnHand();
  }

  // --------------------------------------------------------------------------------- tabs
  function showTab(name) {
    const handover = name === "handover";
    BT.show($("ol-scan"), !handover);
    BT.show($("ol-handover"), handover);
    $("ol-tab-scan").setAttribute("aria-selected", String(!handover));
    $("ol-tab-handover").setAttribute("aria-selected", String(handover));
    $("ol-tab-scan").classList.toggle("secondary", handover);
    $("ol-tab-handover").classList.toggle("secondary", !handover);
    if (handover) {
      stopCamera();
      loadOnHand();
      if (!state.receivers.length) loadReceivers();
    }
  }

  // -------------------------------------------------------------------------------- start
  BT.ready.then(async (me) => {
    state.me = me;
    $("ol-point").addEventListener("change", (e) => choosePoint(e.target.value));
    $("ol-tab-scan").addEventListener("click", () => showTab("scan"));
    $("ol-tab-handover").addEventListener("click", () => showTab("handover"));
    $("ol-camera-start").addEventListener("click", startCamera);
    $("ol-camera-stop").addEventListener("click", stopCamera);
    $("ol-type-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("ol-text");
      const text = input.value;
      input.value = "";
      scan(text, "typed");
    });
    $("ol-photo").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      if (file) await photo(file);
      event.target.value = "";
    });
    $("ol-queue-send").addEventListener("click", flush);
    $("ol-activity").addEventListener("change", renderReceivers);
    $("ol-receiver").addEventListener("change", updateHandover);
    $("ol-handover-form").addEventListener("submit", handOver);
    $("ol-onhand").addEventListener("change", updateHandover);
    $("ol-onhand-refresh").addEventListener("click", () => loadOnHand());
    $("ol-onhand-all").addEventListener("click", () => {
      const boxes = $("ol-onhand").querySelectorAll("input[name=code]");
      const all = Array.from(boxes).every((box) => box.checked);
      boxes.forEach((box) => { box.checked = !all; });
      updateHandover();
    });
    window.addEventListener("online", flush);
    window.addEventListener("storage", (event) => { if (event.key === queueKey()) { loadQueue(); renderQueue(); } });
    loadQueue();
    renderQueue();
    setInterval(flush, RETRY_MS);
    try {
      await loadPoints();
    } catch (error) {
      const shown = $("ol-load-error");
      shown.textContent = reason(error);
      BT.show(shown, true);
    }
    flush();
  });
})();
