// Regulator dashboard, part 2: the ECharts options. A chart is drawn from the figures of part 1;
// no map tiles or fonts are fetched from elsewhere (the page's CSP allows only this site).
"use strict";

/** Where each province sits in the tile grid: [column, row], roughly its place on the map, so
 * the grid reads like a map without needing map geometry. Keyed by the division code's first two
 * digits; a province not listed here is put in an extra row at the bottom. */
RG.TILES = {
  23: [7, 0], 15: [5, 1], 22: [7, 1], 65: [1, 2], 62: [3, 2], 64: [4, 2], 11: [5, 2], 12: [6, 2],
  21: [7, 2], 54: [1, 3], 63: [2, 3], 61: [3, 3], 14: [4, 3], 13: [5, 3], 37: [6, 3], 51: [2, 4],
  50: [3, 4], 41: [4, 4], 34: [5, 4], 32: [6, 4], 31: [7, 4], 53: [2, 5], 52: [3, 5], 42: [4, 5],
  36: [5, 5], 33: [6, 5], 45: [3, 6], 43: [4, 6], 44: [5, 6], 35: [6, 6], 71: [7, 6], 46: [3, 7],
  82: [4, 7], 81: [5, 7],
};
RG.TILE_COLUMNS = 8;
RG.TILE_ROWS = 8;

/** A province's name in the page's language, from the regions report (the API names them). */
RG.provinceNamer = function provinceNamer(regions) {
  const byCode = new Map(regions.map((r) => [r.region_code, r]));
  return (code) => {
    const region = byCode.get(code);
    const name = region && (BT.lang === "en" ? region.region_name_en || region.region_name : region.region_name || region.region_name_en);
    return name || code;
  };
};

RG.number = (value, digits = 0) =>
  value === null || value === undefined ? "–" : Number(value).toLocaleString(BT.lang === "zh" ? "zh-CN" : "en-GB", { maximumFractionDigits: digits });
RG.percent = (value) => (value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`);

/** Provinces as coloured tiles: colour = batteries collected there, label = name and count
 * (cut to the tile's width, which on a phone is a few characters). */
RG.tilesOption = function tilesOption(regions, provinceName, width) {
  const tile = Math.max(30, (width - 8) / RG.TILE_COLUMNS - 6);
  let extra = 0;
  const max = Math.max(1, ...regions.map((r) => r.collected));
  const data = regions.map((region) => {
    const place = RG.TILES[region.region_code.slice(0, 2)] || [extra % RG.TILE_COLUMNS, RG.TILE_ROWS + Math.floor(extra++ / RG.TILE_COLUMNS)];
    return {
      value: [place[0], place[1], region.collected],
      code: region.region_code,
      name: provinceName(region.region_code),
      region,
      // white words on the darkest tiles, where dark ones cannot be read
      label: region.collected > 0.6 * max ? { color: "#fff", textBorderColor: "#0b6e4f" } : undefined,
    };
  });
  const rows = RG.TILE_ROWS + Math.ceil(extra / RG.TILE_COLUMNS);
  const axis = (count) => ({ type: "category", data: [...Array(count).keys()], show: false, splitArea: { show: false } });
  return {
    animation: false,
    grid: { left: 4, right: 4, top: 4, bottom: 52 },
    xAxis: axis(RG.TILE_COLUMNS),
    yAxis: { ...axis(rows), inverse: true },
    visualMap: {
      min: 0, max, calculable: true, orient: "horizontal", left: "center", bottom: 0, itemHeight: 160,
      text: [BT.t("regulator.more"), BT.t("regulator.less")],
      inRange: { color: ["#eef5f1", "#7cc3a4", "#0b6e4f"] },
    },
    tooltip: {
      formatter: (item) => {
        const r = item.data.region;
        return [
          `<b>${BT.escapeHtml(item.data.name)}</b>`,
          `${BT.escapeHtml(BT.t("regulator.col.collection_points"))}: ${RG.number(r.collection_points)}`,
          `${BT.escapeHtml(BT.t("regulator.col.collected"))}: ${RG.number(r.collected)}`,
          `${BT.escapeHtml(BT.t("regulator.col.collected_kg"))}: ${RG.number(r.collected_kg, 1)}`,
          `${BT.escapeHtml(BT.t("regulator.col.whitelisted_share"))}: ${RG.percent(r.whitelisted_share)}`,
        ].join("<br>");
      },
    },
    series: [{
      id: "provinces",
      type: "heatmap",
      data,
      itemStyle: { borderColor: "#fff", borderWidth: 3, borderRadius: 6 },
      label: {
        show: true,
        formatter: (item) => `${item.data.name}\n${RG.number(item.data.value[2])}`,
        fontSize: tile < 70 ? 9 : 11,
        width: tile,
        overflow: "truncate",
        ellipsis: "…",
        color: "#1d2630",
        textBorderColor: "#fff",
        textBorderWidth: 2,
      },
    }],
  };
};

RG.MONTHLY_SERIES = ["produced", "retired", "collected", "recycled"];

/** Per month: four counts as bars and the recycling rate as a line on its own percent axis. */
RG.monthlyOption = function monthlyOption(series) {
  const months = series.map((m) => m.month);
  const start = months.length > 36 ? Math.round((1 - 36 / months.length) * 100) : 0;
  return {
    animation: false,
    color: ["#4b7bb5", "#d08a2e", "#7a5cb0", "#0b6e4f", "#b3261e"],
    tooltip: {
      trigger: "axis",
      valueFormatter: (value) => (value === null || value === undefined ? "–" : RG.number(value, 1)),
    },
    grid: { left: 48, right: 52, top: 64, bottom: 70 },
    legend: { top: 0, type: "scroll" },
    dataZoom: [{ type: "slider", start, end: 100, bottom: 10 }, { type: "inside" }],
    xAxis: { type: "category", data: months },
    yAxis: [
      { type: "value", name: BT.t("regulator.batteries"), minInterval: 1 },
      { type: "value", name: BT.t("regulator.total.recycling_rate"), min: 0, max: 100, axisLabel: { formatter: "{value}%" }, splitLine: { show: false } },
    ],
    series: [
      ...RG.MONTHLY_SERIES.map((key) => ({
        id: key, name: BT.t(`regulator.total.${key === "recycled" ? "recycled" : key}`), type: "bar", data: series.map((m) => m[key]),
      })),
      {
        id: "recycling_rate",
        name: BT.t("regulator.total.recycling_rate"),
        type: "line",
        yAxisIndex: 1,
        connectNulls: false,
        data: series.map((m) => (m.recycling_rate === null ? null : Math.round(m.recycling_rate * 1000) / 10)),
      },
    ],
  };
};

/** Flows as a sankey; a link with non-compliant handovers is drawn red. */
RG.sankeyOption = function sankeyOption(graph) {
  const display = new Map(graph.nodes.map((n) => [n.key, n.name]));
  const colours = { province: "#4b7bb5", collection_point: "#7cc3a4", enterprise: "#0b6e4f" };
  return {
    animation: false,
    tooltip: {
      trigger: "item",
      formatter: (item) => {
        if (item.dataType === "edge") {
          const d = item.data;
          return `${BT.escapeHtml(display.get(d.source))} → ${BT.escapeHtml(display.get(d.target))}<br>` +
            `${BT.escapeHtml(BT.t("regulator.col.count"))}: ${RG.number(d.value)}<br>` +
            `${BT.escapeHtml(BT.t("regulator.col.compliant_count"))}: ${RG.number(d.compliant)}`;
        }
        return `${BT.escapeHtml(display.get(item.name))}: ${RG.number(item.value)}`;
      },
    },
    series: [{
      id: "flows",
      type: "sankey",
      left: 8, right: 160, top: 8, bottom: 8,
      nodeGap: 6,
      emphasis: { focus: "adjacency" },
      data: graph.nodes.map((n) => ({ name: n.key, itemStyle: { color: colours[n.kind] } })),
      links: graph.links.map((l) => ({
        source: l.source, target: l.target, value: l.value, compliant: l.compliant,
        lineStyle: { color: l.compliant < l.value ? "#b3261e" : "gradient", opacity: 0.45 },
      })),
      label: { formatter: (item) => display.get(item.name), fontSize: 11, overflow: "truncate", width: 150 },
    }],
  };
};
