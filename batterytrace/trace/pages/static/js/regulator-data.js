// Regulator dashboard, part 1: reading the regulator API and deriving the figures the page shows.
// Everything here is plain data in, plain data out, so the page's numbers can be checked against
// the API's (the browser tests do exactly that).
"use strict";

const RG = {};

RG.PAGE = 1000; // the reports' largest page

/** Every row of a paged report or list: the API caps a page at 1000 rows, a report may hold more.
 * Each page names the next one (`next`, null on the last). */
RG.pageAll = async function pageAll(path, query = {}) {
  const rows = [];
  let page = await BT.api("GET", path, { query: { ...query, limit: RG.PAGE } });
  for (;;) {
    rows.push(...page.items);
    if (!page.next) return rows;
    page = await BT.api("GET", page.next);
  }
};

/** The CSV of a report: one request, which the API answers with every row for the filters
 * (streamed), in its own columns and values, its header row in the page's language (`lang`);
 * the key is sent in the header (it cannot go in a link). */
RG.fetchCsv = async function fetchCsv(path, query) {
  const response = await BT.api("GET", path, {
    query: { ...query, format: "csv", lang: BT.lang },
    headers: { Accept: "text/csv" },
    raw: true,
  });
  return response.text();
};

/** Offer a text as a file download (a Blob: the data came with the key, not from a URL). */
RG.saveText = function saveText(filename, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
};

/** Everything the dashboard draws, read once after sign-in. */
RG.load = async function load() {
  const [network, regions, flows, monthly, swaps, overdue, compliance, participants] = await Promise.all([
    RG.pageAll("/api/v1/reports/network"),
    RG.pageAll("/api/v1/reports/regions"),
    RG.pageAll("/api/v1/reports/flows"),
    RG.pageAll("/api/v1/reports/monthly"),
    RG.pageAll("/api/v1/reports/swaps"),
    RG.pageAll("/api/v1/reports/overdue"),
    RG.pageAll("/api/v1/reports/compliance"),
    RG.pageAll("/api/v1/participants"),
  ]);
  const names = new Map(participants.map((p) => [p.credit_code, BT.nameOf(p)]));
  const points = new Map(network.map((p) => [p.id, p]));
  return { network, regions, flows, monthly, swaps, overdue, compliance, names, points };
};

/** Of a month's retired batteries, how many have reached the formal channel. The API gives the
 * rate rounded to three places; rate × retired gives the count back exactly while a row's
 * retired count stays under 1000 (the error is below half a battery). */
RG.retiredThenFormal = (row) => (row.recycling_rate === null ? 0 : Math.round(row.recycling_rate * row.retired));

/** The share as a number, or null where nothing was retired (a rate of 0 would be a claim). */
RG.rate = (formal, retired) => (retired ? formal / retired : null);

/** National totals from the monthly report (production and life events) and the flows report
 * (handovers, which include those by enterprises, not only by collection points). */
RG.totals = function totals(data) {
  const sum = (rows, field) => rows.reduce((total, row) => total + (row[field] || 0), 0);
  const monthly = data.monthly;
  const retired = sum(monthly, "retired");
  const formal = monthly.reduce((total, row) => total + RG.retiredThenFormal(row), 0);
  return {
    produced: sum(monthly, "produced"),
    // Installations minus retirements: the monthly report counts events, not current states.
    in_use: Math.max(0, sum(monthly, "installed") - retired),
    retired,
    collected: sum(monthly, "collected"),
    handed_over: sum(data.flows, "count"),
    recycled: sum(monthly, "recycled"),
    cascade_used: sum(monthly, "cascade_used"),
    recycling_rate: RG.rate(formal, retired),
  };
};

RG.TOTALS = ["produced", "in_use", "retired", "collected", "handed_over", "recycled", "cascade_used", "recycling_rate"];

/** Manufacturers in the monthly report, by name: the selector's choices. */
RG.manufacturers = function manufacturers(monthly) {
  const found = new Map();
  for (const row of monthly) found.set(row.manufacturer_id, BT.nameOf(row, "manufacturer_name") || row.manufacturer_id);
  return [...found.entries()].sort((a, b) => a[1].localeCompare(b[1]));
};

/** One series per month for one manufacturer, or the sum over all of them ("" = all). Months
 * with no row in between are filled with zeros so the time axis has no silent gaps. */
RG.monthlySeries = function monthlySeries(monthly, manufacturerId) {
  const rows = manufacturerId ? monthly.filter((r) => r.manufacturer_id === manufacturerId) : monthly;
  const byMonth = new Map();
  for (const row of rows) {
    const month = byMonth.get(row.month) || { month: row.month, produced: 0, retired: 0, collected: 0, recycled: 0, formal: 0 };
    month.produced += row.produced;
    month.retired += row.retired;
    month.collected += row.collected;
    month.recycled += row.recycled;
    month.formal += RG.retiredThenFormal(row);
    byMonth.set(row.month, month);
  }
  const months = RG.monthRange([...byMonth.keys()].sort());
  return months.map((month) => {
    const row = byMonth.get(month) || { month, produced: 0, retired: 0, collected: 0, recycled: 0, formal: 0 };
    return { ...row, recycling_rate: RG.rate(row.formal, row.retired) };
  });
};

/** Every month from the first to the last ("2024-11", "2024-12", "2025-01", …). */
RG.monthRange = function monthRange(sorted) {
  if (!sorted.length) return [];
  const [first, last] = [sorted[0], sorted[sorted.length - 1]];
  const months = [];
  let [year, month] = first.split("-").map(Number);
  for (let guard = 0; guard < 2400; guard += 1) {
    const key = `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}`;
    months.push(key);
    if (key >= last) break;
    month += 1;
    if (month > 12) { month = 1; year += 1; }
  }
  return months;
};

/** The sankey's nodes and links. Collection points are shown one by one or summed per province;
 * an edge that would close a cycle (A→B→A) is left out and counted, because a sankey cannot draw
 * cycles. Link values are battery counts. */
RG.sankey = function sankey(data, groupBy, provinceName) {
  const nodes = new Map();
  const node = (key, name, kind) => {
    if (!nodes.has(key)) nodes.set(key, { key, name, kind });
    return key;
  };
  const sourceOf = (flow) => {
    if (flow.source_kind !== "collection_point") {
      return node(`p:${flow.source_id}`, data.names.get(flow.source_id) || flow.source_id, "enterprise");
    }
    const point = data.points.get(flow.source_id);
    if (groupBy === "province" && point) {
      return node(`r:${point.province_code}`, provinceName(point.province_code), "province");
    }
    return node(`c:${flow.source_id}`, point ? BT.nameOf(point) : flow.source_id, "collection_point");
  };
  const merged = new Map();
  for (const flow of data.flows) {
    const source = sourceOf(flow);
    const receiver = data.names.get(flow.receiver_id) || BT.nameOf(flow, "receiver_name") || flow.receiver_id;
    const target = node(`p:${flow.receiver_id}`, receiver, "enterprise");
    const id = `${source}>${target}`;
    const link = merged.get(id) || { source, target, value: 0, compliant: 0 };
    link.value += flow.count;
    link.compliant += flow.compliant_count;
    merged.set(id, link);
  }
  const kept = [];
  const dropped = [];
  const next = new Map();
  const reaches = (from, to) => {
    const seen = new Set();
    const stack = [from];
    while (stack.length) {
      const at = stack.pop();
      if (at === to) return true;
      if (seen.has(at)) continue;
      seen.add(at);
      stack.push(...(next.get(at) || []));
    }
    return false;
  };
  for (const link of [...merged.values()].sort((a, b) => b.value - a.value)) {
    if (link.source === link.target || reaches(link.target, link.source)) {
      dropped.push(link);
      continue;
    }
    kept.push(link);
    next.set(link.source, [...(next.get(link.source) || []), link.target]);
  }
  const used = new Set(kept.flatMap((l) => [l.source, l.target]));
  return { nodes: [...nodes.values()].filter((n) => used.has(n.key)), links: kept, dropped };
};
