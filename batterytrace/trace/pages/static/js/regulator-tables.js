// Regulator dashboard, part 3: tables, their CSV downloads and a battery's lifecycle dialog.
// Cells are built with escapeHtml: names, addresses and details are data typed in by enterprises.
"use strict";

/** A word for an API value ("handed over", "late_report"), or the value itself where the
 * messages have none: a new value from a newer server still shows. */
RG.label = function label(prefix, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = `${prefix}.${String(value).replace(/ /g, "_")}`;
  const text = BT.t(key);
  return text === key ? String(value) : text;
};

/** "2025-09-30T11:28:00+08:00" as "2025-09-30 11:28" (the API gives China Standard Time). */
/** A message shared with another page (the public page's chemistry names), or the API's words
 * where that page's messages do not have it. */
RG.translated = (key, fallback) => (BT.t(key) === key ? fallback ?? "" : BT.t(key));

RG.when = (value) => (value ? String(value).slice(0, 16).replace("T", " ") : "");

RG.codeButton = (code) =>
  code ? `<button type="button" class="link rg-code" data-code="${BT.escapeHtml(code)}">${BT.escapeHtml(code)}</button>` : "";

/** Fill a table: columns are [key, render(row) → HTML]; the header words are message keys. */
RG.fillTable = function fillTable(table, columns, rows) {
  const head = columns.map(([key]) => `<th scope="col" data-i18n="regulator.col.${key}">${BT.escapeHtml(BT.t(`regulator.col.${key}`))}</th>`).join("");
  const body = rows.length
    ? rows.map((row) => `<tr>${columns.map(([key, render]) => `<td data-col="${key}">${render(row)}</td>`).join("")}</tr>`).join("")
    : `<tr><td colspan="${columns.length}" class="rg-muted">${BT.escapeHtml(BT.t("regulator.none"))}</td></tr>`;
  table.innerHTML = `<thead><tr>${head}</tr></thead><tbody>${body}</tbody>`;
  table.dataset.rows = String(rows.length);
};

RG.columns = function columns(data, provinceName) {
  const text = (field) => (row) => BT.escapeHtml(row[field] ?? "");
  const count = (field, digits = 0) => (row) => RG.number(row[field], digits);
  const share = (field) => (row) => RG.percent(row[field]);
  const who = (field) => (row) => BT.escapeHtml(row[field] ? data.names.get(row[field]) || row[field] : "");
  return {
    regions: [
      ["region", (r) => BT.escapeHtml(provinceName(r.region_code))],
      ["collection_points", count("collection_points")],
      ["collected", count("collected")],
      ["collected_kg", count("collected_kg", 1)],
      ["on_hand_kg", count("on_hand_kg", 1)],
      ["handed_over", count("handed_over")],
      ["whitelisted_share", share("whitelisted_share")],
      ["recycled", count("recycled")],
      ["cascade_used", count("cascade_used")],
    ],
    network: [
      ["point", (r) => `<code>${BT.escapeHtml(r.id)}</code><br>${BT.escapeHtml(r.name)}`],
      ["operator", who("operator_id")],
      ["region", (r) => BT.escapeHtml(provinceName(r.province_code))],
      ["point_kind", (r) => BT.escapeHtml(RG.label("regulator.point_kind", r.kind))],
      ["review", (r) => `<span class="${r.review === "pending" ? "bad" : ""}">${BT.escapeHtml(RG.label("regulator.review", r.review))}</span>`],
      ["capacity_kg", count("capacity_kg")],
      ["on_hand_kg", (r) => `<span class="${r.over_capacity ? "bad" : ""}">${RG.number(r.on_hand_kg, 1)}</span>`],
      ["fill_ratio", share("fill_ratio")],
      ["collected", count("collected_count")],
      ["handed_over", count("handed_over_count")],
      ["recycled", count("recycled_count")],
      ["cascade_used", count("cascade_used_count")],
    ],
    monthly: [
      ["month", text("month")],
      ["manufacturer", (r) => BT.escapeHtml(r.manufacturer_name || r.manufacturer_id)],
      ["produced", count("produced")],
      ["installed", count("installed")],
      ["retired", count("retired")],
      ["collected", count("collected")],
      ["cascade_used", count("cascade_used")],
      ["recycled", count("recycled")],
      ["recycling_rate", share("recycling_rate")],
    ],
    flows: [
      ["source", (r) => BT.escapeHtml(r.source_kind === "collection_point" ? data.points.get(r.source_id)?.name || r.source_id : data.names.get(r.source_id) || r.source_id)],
      ["receiver", (r) => BT.escapeHtml(r.receiver_name || data.names.get(r.receiver_id) || r.receiver_id)],
      ["activity", (r) => BT.escapeHtml(RG.label("regulator.activity", r.activity))],
      ["count", count("count")],
      ["compliant_count", (r) => `<span class="${r.compliant_count < r.count ? "bad" : ""}">${RG.number(r.compliant_count)}</span>`],
      ["mass_kg", count("mass_kg", 1)],
    ],
    overdue: [
      ["code", (r) => RG.codeButton(r.code)],
      ["manufacturer", who("manufacturer_id")],
      ["state", (r) => BT.escapeHtml(RG.label("regulator.state", r.state))],
      ["retired_at", (r) => BT.escapeHtml(RG.when(r.retired_at))],
      ["days_since_retired", count("days_since_retired")],
      ["held_by", who("held_by")],
      ["vin", (r) => `<code>${BT.escapeHtml(r.vin ?? "")}</code>`],
    ],
    compliance: [
      ["kind", (r) => `<span class="badge bad">${BT.escapeHtml(RG.label("regulator.kind", r.kind))}</span>`],
      ["code", (r) => RG.codeButton(r.code) || BT.escapeHtml(r.collection_point_id ?? "")],
      ["event", (r) => BT.escapeHtml(RG.label("regulator.event", r.event))],
      ["manufacturer", who("manufacturer_id")],
      ["actor", who("actor_id")],
      ["occurred_at", (r) => BT.escapeHtml(RG.when(r.occurred_at))],
      ["detail", text("detail")],
    ],
  };
};

/** A battery's lifecycle from the API in the dialog, with a link to its public page. */
RG.showBattery = async function showBattery(code) {
  const dialog = document.getElementById("rg-battery");
  const body = document.getElementById("rg-battery-body");
  const error = document.getElementById("rg-battery-error");
  body.innerHTML = `<p class="rg-muted">${BT.escapeHtml(BT.t("regulator.loading"))}</p>`;
  BT.show(error, false);
  dialog.dataset.code = code;
  if (!dialog.open) dialog.showModal();
  let doc;
  try {
    doc = await BT.api("GET", `/api/v1/batteries/${encodeURIComponent(code)}`);
  } catch (refused) {
    body.innerHTML = "";
    error.textContent = BT.t("regulator.battery.failed", { reason: refused.message });
    BT.show(error, true);
    return;
  }
  const b = doc.battery;
  const facts = [
    ["code", `<code>${BT.escapeHtml(b.code)}</code>`],
    ["level", BT.escapeHtml(RG.label("regulator.level", b.level))],
    ["chemistry", BT.escapeHtml(RG.translated(`public.chemistry.${b.battery_type}`, b.chemistry))],
    ["manufacturer", BT.escapeHtml(b.manufacturer_name || b.manufacturer_id || "")],
    ["production_date", BT.escapeHtml(b.production_date ?? b.production_month ?? "")],
    ["state", BT.escapeHtml(RG.label("regulator.state", b.state))],
    ["held_by", BT.escapeHtml(b.responsible_name || b.responsible_id || "")],
    ["vin", `<code>${BT.escapeHtml(b.vin ?? "")}</code>`],
  ];
  const flags = (b.flags || []).map((f) => `<span class="badge bad">${BT.escapeHtml(f)}</span>`).join(" ");
  const timeline = (doc.timeline || []).map((e) => `<tr><td>${e.version}</td><td>${BT.escapeHtml(RG.label("regulator.event", e.event))}</td>` +
    `<td>${BT.escapeHtml(RG.when(e.occurred_at))}</td><td>${BT.escapeHtml(RG.when(e.recorded_at))}</td>` +
    `<td>${BT.escapeHtml(e.actor_name || e.actor_id || "")}</td></tr>`).join("");
  const th = (key) => `<th scope="col">${BT.escapeHtml(BT.t(`regulator.col.${key}`))}</th>`;
  body.innerHTML = `<dl class="rg-facts">${facts.map(([key, value]) => `<dt>${BT.escapeHtml(BT.t(`regulator.col.${key}`))}</dt><dd>${value}</dd>`).join("")}</dl>` +
    (flags ? `<p class="rg-flags">${flags}</p>` : "") +
    `<h3>${BT.escapeHtml(BT.t("regulator.battery.timeline"))}</h3>` +
    `<div class="table-wrap"><table class="rg-timeline"><thead><tr>${["version", "event", "occurred_at", "recorded_at", "actor"].map(th).join("")}</tr></thead><tbody>${timeline}</tbody></table></div>` +
    `<p><a class="rg-public" href="/b/${encodeURIComponent(b.code)}" target="_blank" rel="noopener">${BT.escapeHtml(BT.t("regulator.battery.public"))}</a></p>`;
};
