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

/** A message shared with another page (the public page's chemistry names), or the API's words
 * where that page's messages do not have it. */
RG.translated = (key, fallback) => (BT.t(key) === key ? fallback ?? "" : BT.t(key));

/** The flags the lifecycle view stores (English constants of the domain) as message keys. */
RG.FLAGS = {
  "non-compliant handover": "non_compliant_handover",
  "late report": "late_report",
  "dates run backwards (late correction)": "backwards_date",
  "retired by a dismantler without a vehicle scrapping record": "unverified_custody",
};

/** The flag the lifecycle query adds to a battery overdue now (queries.battery_lifecycle), with
 * the platform's number of days in it. */
RG.OVERDUE_FLAG = /^overdue \(retired over (\d+) days ago, not taken in\)$/;

/** A battery flag in the page's language; a flag this page does not know shows as stored. */
RG.flag = function flag(text) {
  if (RG.FLAGS[text]) return BT.t(`regulator.flag.${RG.FLAGS[text]}`);
  const overdue = RG.OVERDUE_FLAG.exec(text);
  return overdue ? BT.t("regulator.flag.overdue", { days: overdue[1] }) : text;
};

/** A compliance finding's "detail" column in the page's language, from its kind and its
 * structured fields (event, times, due_by, the outlet's figures from the network report); the
 * English `detail` of the API where a kind is new or a field is missing. A non-compliant
 * handover's receiver and day are read from the detail the domain writes ("NAME (CREDIT) is not
 * whitelisted for ACTIVITY on DAY"), since the finding carries no receiver field. */
RG.findingText = function findingText(row, data) {
  const event = RG.label("regulator.event", row.event);
  const occurred = BT.when(row.occurred_at); // with its zone; .slice(0, 10) is its day
  const recorded = BT.when(row.recorded_at);
  switch (row.kind) {
    case "non_compliant_handover": {
      const said = /\(([0-9A-Z]{18})\) is not whitelisted for (\w+) on (\d{4}-\d{2}-\d{2})/.exec(row.detail || "");
      if (!said) return BT.t("regulator.finding.non_compliant_handover");
      const [, receiver, activity, day] = said;
      return BT.t("regulator.finding.non_compliant_handover_to", {
        receiver: data.names.get(receiver) || receiver,
        activity: RG.label("regulator.activity", activity),
        day,
      });
    }
    case "unverified_custody":
      return BT.t("regulator.finding.unverified_custody");
    case "scrapped_not_handed_over":
      return row.due_by
        ? BT.t("regulator.finding.scrapped_not_handed_over", { scrapped: occurred.slice(0, 10), days: row.deadline_working_days, due: row.due_by })
        : row.detail || "";
    case "late_report":
      return row.due_by
        ? BT.t("regulator.finding.late_report_due", { event, occurred: occurred.slice(0, 10), due: row.due_by, recorded: recorded.slice(0, 10) })
        : BT.t("regulator.finding.late_report", { event, occurred: occurred.slice(0, 10), recorded: recorded.slice(0, 10) });
    case "backwards_date":
      return BT.t("regulator.finding.backwards_date", { event, occurred });
    case "outlet_over_capacity": {
      const point = data.points.get(row.collection_point_id);
      if (!point) return row.detail || "";
      return BT.t("regulator.finding.outlet_over_capacity", {
        point: BT.nameOf(point),
        on_hand: RG.number(point.on_hand_kg),
        capacity: RG.number(point.capacity_kg),
      });
    }
    default:
      return row.detail || "";
  }
};

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
      ["point", (r) => `<code>${BT.escapeHtml(r.id)}</code><br>${BT.escapeHtml(BT.nameOf(r))}`],
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
      ["manufacturer", (r) => BT.escapeHtml(data.names.get(r.manufacturer_id) || BT.nameOf(r, "manufacturer_name") || r.manufacturer_id)],
      ["produced", count("produced")],
      ["installed", count("installed")],
      ["retired", count("retired")],
      ["collected", count("collected")],
      ["cascade_used", count("cascade_used")],
      ["recycled", count("recycled")],
      ["recycling_rate", share("recycling_rate")],
    ],
    flows: [
      ["source", (r) => BT.escapeHtml(r.source_kind === "collection_point" ? BT.nameOf(data.points.get(r.source_id)) || r.source_id : data.names.get(r.source_id) || r.source_id)],
      ["receiver", (r) => BT.escapeHtml(data.names.get(r.receiver_id) || BT.nameOf(r, "receiver_name") || r.receiver_id)],
      ["activity", (r) => BT.escapeHtml(RG.label("regulator.activity", r.activity))],
      ["count", count("count")],
      ["compliant_count", (r) => `<span class="${r.compliant_count < r.count ? "bad" : ""}">${RG.number(r.compliant_count)}</span>`],
      ["mass_kg", count("mass_kg", 1)],
    ],
    swaps: [
      ["month", text("month")],
      ["operator", (r) => BT.escapeHtml(data.names.get(r.operator_id) || BT.nameOf(r, "operator_name") || r.operator_id)],
      ["region", (r) => BT.escapeHtml(BT.nameOf(r, "province_name") || provinceName(r.province_code))],
      ["swaps", count("swaps")],
    ],
    overdue: [
      ["code", (r) => RG.codeButton(r.code)],
      ["manufacturer", who("manufacturer_id")],
      ["state", (r) => BT.escapeHtml(RG.label("regulator.state", r.state))],
      ["retired_at", (r) => BT.timeHtml(r.retired_at)],
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
      ["occurred_at", (r) => BT.timeHtml(r.occurred_at)],
      ["detail", (r) => BT.escapeHtml(RG.findingText(r, data))],
    ],
  };
};

/** A battery's lifecycle from the API in the dialog, with a link to its public page; `names`
 * (credit code -> name in the page's language) names the participants where it can. */
RG.showBattery = async function showBattery(code, names = new Map()) {
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
    ["manufacturer", BT.escapeHtml(names.get(b.manufacturer_id) || BT.nameOf(b, "manufacturer_name") || b.manufacturer_id || "")],
    ["production_date", BT.escapeHtml(b.production_date ?? b.production_month ?? "")],
    ["state", BT.escapeHtml(RG.label("regulator.state", b.state))],
    ["held_by", BT.escapeHtml(names.get(b.responsible_id) || BT.nameOf(b, "responsible_name") || b.responsible_id || "")],
    ["vin", `<code>${BT.escapeHtml(b.vin ?? "")}</code>`],
  ];
  const flags = (b.flags || []).map((f) => `<span class="badge bad" data-flag="${BT.escapeHtml(f)}">${BT.escapeHtml(RG.flag(f))}</span>`).join(" ");
  const timeline = (doc.timeline || []).map((e) => `<tr><td>${e.version}</td><td>${BT.escapeHtml(RG.label("regulator.event", e.event))}</td>` +
    `<td>${BT.timeHtml(e.occurred_at)}</td><td>${BT.timeHtml(e.recorded_at)}</td>` +
    `<td>${BT.escapeHtml(names.get(e.actor_id) || BT.nameOf(e, "actor_name") || e.actor_id || "")}</td></tr>`).join("");
  const th = (key) => `<th scope="col">${BT.escapeHtml(BT.t(`regulator.col.${key}`))}</th>`;
  body.innerHTML = `<dl class="rg-facts">${facts.map(([key, value]) => `<dt>${BT.escapeHtml(BT.t(`regulator.col.${key}`))}</dt><dd>${value}</dd>`).join("")}</dl>` +
    (flags ? `<p class="rg-flags">${flags}</p>` : "") +
    `<h3>${BT.escapeHtml(BT.t("regulator.battery.timeline"))}</h3>` +
    `<div class="table-wrap"><table class="rg-timeline"><thead><tr>${["version", "event", "occurred_at", "recorded_at", "actor"].map(th).join("")}</tr></thead><tbody>${timeline}</tbody></table></div>` +
    `<p><a class="rg-public" href="/b/${encodeURIComponent(b.code)}" target="_blank" rel="noopener">${BT.escapeHtml(BT.t("regulator.battery.public"))}</a></p>`;
};
