// The station finder: a nearest-station search (address, "lat,lon", the
// browser's location or a click on the map) whose results are listed, with
// phone, address and opening state, and numbered on a Leaflet map of every
// station. On a phone the list comes first and the map opens on demand.
// Plain script, no build step; everything the page shows comes from the
// /api/v1 JSON API, and with no tiles reachable the map still shows an
// offline base layer of country outlines and province names.
(function () {
  "use strict";

  var API = "api/v1";
  var CHINA = [[18.0, 73.5], [53.6, 135.1]];
  // Must match the breakpoint in style.css.
  var PHONE = window.matchMedia("(max-width: 760px)");

  var SERVICE_NAMES = { onsite: "上门 On-site", carry_in: "送修 Carry-in" };
  var PRODUCT_NAMES = {
    notebook: "笔记本", desktop: "台式机", all_in_one: "一体机", monitor: "显示器",
    tablet: "平板", printer: "打印机", server: "服务器"
  };
  var LEVEL_NAMES = { province: "省级", city: "市级", district: "区县级" };

  // Province names at their seats of government (from the divisions
  // gazetteer, rounded): orientation inside China, where the 1:110m outlines
  // have no inner borders. [name, lat, lon, from zoom]
  var PROVINCES = [
    ["北京", 39.9, 116.4, 4], ["天津", 39.1, 117.2, 6], ["河北", 38.0, 114.5, 4], ["山西", 37.9, 112.6, 4],
    ["内蒙古", 40.8, 111.8, 4], ["辽宁", 41.8, 123.4, 4], ["吉林", 43.9, 125.3, 4], ["黑龙江", 45.7, 126.7, 4],
    ["上海", 31.2, 121.5, 4], ["江苏", 32.1, 118.8, 4], ["浙江", 30.3, 120.2, 4], ["安徽", 31.7, 117.3, 5],
    ["福建", 26.1, 119.3, 4], ["江西", 28.6, 115.8, 4], ["山东", 36.7, 117.0, 4], ["河南", 34.8, 113.8, 4],
    ["湖北", 30.5, 114.3, 4], ["湖南", 28.1, 113.0, 4], ["广东", 23.1, 113.3, 4], ["广西", 22.8, 108.3, 4],
    ["海南", 20.0, 110.3, 4], ["重庆", 29.6, 106.6, 4], ["四川", 30.7, 104.1, 4], ["贵州", 26.6, 106.7, 4],
    ["云南", 25.0, 102.7, 4], ["西藏", 29.6, 91.1, 4], ["陕西", 34.3, 109.0, 4], ["甘肃", 36.1, 103.8, 4],
    ["青海", 36.6, 101.8, 4], ["宁夏", 38.5, 106.3, 4], ["新疆", 43.8, 87.6, 4], ["台湾", 25.0, 121.5, 4],
    ["香港", 22.3, 114.2, 7], ["澳门", 22.2, 113.5, 7]
  ];

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    layout: $("layout"), form: $("search-form"), q: $("q"), search: $("search"),
    locate: $("locate"), filters: $("filters"), filterCount: $("filter-count"),
    service: $("service"), product: $("product"), k: $("k"), openNow: $("open-now"),
    error: $("error"), division: $("division"), status: $("status"),
    results: $("results"), summary: $("summary"), map: $("map"), mapToggle: $("map-toggle"),
    legend: $("legend")
  };

  /** `s` as HTML that shows exactly `s` (no markup of its own). */
  function asHtmlText(s) {
    var d = document.createElement("div");
    d.textContent = s;
    return d.innerHTML;
  }

  // Tile settings: the map element's data attributes, overridable from the
  // page URL so a deployment or a bookmark can point at an internal tile server.
  var params = new URLSearchParams(window.location.search);
  var config = {
    tiles: params.get("tiles") || els.map.dataset.tiles || "none",
    // Leaflet reads an attribution as HTML: one from the address is text.
    attribution: params.has("tiles") ? asHtmlText(params.get("attribution") || "") : (els.map.dataset.attribution || ""),
    maxZoom: Number(els.map.dataset.maxZoom) || 18,
    // Station points are requested in the tiles' coordinate system so they
    // sit on the right streets of AMap / Baidu tiles.
    crs: params.get("crs") || els.map.dataset.crs || "wgs84"
  };

  // --- times, read in Asia/Shanghai ---------------------------------------
  // Formatted by hand: China keeps UTC+8 all year, and the browser's locale
  // data (missing or different on many phones) must not change the words.

  var WEEKDAYS = ["周日", "周一", "周二", "周三", "周四", "周五", "周六"];
  var DAY_MS = 86400000;

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  // A Date whose UTC fields read as the wall clock in Shanghai.
  function shanghai(t) { return new Date(new Date(t).getTime() + 8 * 3600000); }

  // "今天 14:00", "明天 09:00", "周六 09:00" within the week, else "12月4日周五 09:00".
  function nextOpenText(iso, now) {
    var t = shanghai(iso);
    var days = Math.floor(t.getTime() / DAY_MS) - Math.floor(shanghai(now).getTime() / DAY_MS);
    var hm = pad(t.getUTCHours()) + ":" + pad(t.getUTCMinutes());
    var wd = WEEKDAYS[t.getUTCDay()];
    if (days <= 0) { return "今天 " + hm; }
    if (days === 1) { return "明天 " + hm; }
    if (days < 7) { return wd + " " + hm; }
    return (t.getUTCMonth() + 1) + "月" + t.getUTCDate() + "日" + wd + " " + hm;
  }

  // OSM opening_hours ("Mo-Fr 08:30-17:30; Sa 09:00-12:00") in Chinese.
  var OSM_DAYS = { Mo: "周一", Tu: "周二", We: "周三", Th: "周四", Fr: "周五", Sa: "周六", Su: "周日", PH: "节假日" };
  function hoursText(raw) {
    if (!raw) { return ""; }
    if (raw.trim() === "24/7") { return "全天 24 小时"; }
    return raw.split(/\s*;\s*/).map(function (rule) {
      return rule
        .replace(/\bMo-Su\b/, "每天")
        .replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su|PH)-(Mo|Tu|We|Th|Fr|Sa|Su)\b/g, function (_, a, b) {
          return OSM_DAYS[a] + "至" + OSM_DAYS[b];
        })
        .replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su|PH)\b/g, function (d) { return OSM_DAYS[d]; })
        .replace(/\s*,\s*/g, "、")
        .replace(/\b(off|closed)\b/g, "休息");
    }).join("；");
  }

  // "营业中", or when it opens next; the server decides both in the
  // station's own time zone.
  function openState(s) {
    if (s.open_now) { return { open: true, text: "营业中", en: "Open now" }; }
    if (s.next_open_at) {
      return { open: false, text: "休息中 · 下次营业 " + nextOpenText(s.next_open_at, Date.now()), en: "Closed" };
    }
    return { open: false, text: "暂停营业", en: "Closed" };
  }

  // --- the map ------------------------------------------------------------

  var map = L.map("map", { zoomControl: false, minZoom: 3, worldCopyJump: true });
  // Leaflet's own button names are English; screen readers read these.
  L.control.zoom({ zoomInTitle: "放大", zoomOutTitle: "缩小" }).addTo(map);
  map.on("popupopen", function (ev) {
    var close = ev.popup.getElement().querySelector(".leaflet-popup-close-button");
    if (close) { close.setAttribute("aria-label", "关闭"); close.title = "关闭"; }
  });
  // What the map should frame; kept so a map opened later (or hidden while
  // a search ran) can frame it once it has a size.
  var view = { bounds: L.latLngBounds(CHINA), options: {} };
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  map.createPane("base");
  // Under the tiles (tilePane is 200): tiles that load cover it.
  map.getPane("base").style.zIndex = 150;
  map.getPane("base").style.pointerEvents = "none";

  function hasSize() {
    var s = map.getSize();
    return s.x > 0 && s.y > 0;
  }

  function frame(bounds, options) {
    view = { bounds: bounds, options: options || {} };
    // Fitting a hidden map divides by its zero size.
    if (hasSize()) { map.fitBounds(view.bounds, view.options); }
  }
  map.setView([35, 104], 4);
  frame(view.bounds);

  var sized = hasSize();
  if (window.ResizeObserver) {
    new ResizeObserver(function () {
      var was = sized;
      map.invalidateSize();
      sized = hasSize();
      if (sized && !was) { map.fitBounds(view.bounds, view.options); }
    }).observe(els.map);
  }

  if (config.tiles !== "none") {
    var tileErrors = 0;
    L.tileLayer(config.tiles, { maxZoom: config.maxZoom, attribution: config.attribution })
      .on("tileerror", function () {
        tileErrors += 1;
        if (tileErrors === 4) { els.map.classList.add("no-tiles"); }
      })
      .on("tileload", function () { els.map.classList.remove("no-tiles"); })
      .addTo(map);
  } else {
    els.map.classList.add("no-tiles");
  }
  drawGraticule();
  drawProvinceNames();
  drawCountries();
  // Top right: at the bottom a phone-wide map has room for the attribution only.
  var note = L.control({ position: "topright" });
  note.onAdd = function () {
    var box = el("div", "tiles-note", "在线地图无法加载，显示简易底图 ");
    box.appendChild(el("span", "en", "Offline base map"));
    return box;
  };
  note.addTo(map);
  var legend = L.control({ position: "bottomleft" });
  legend.onAdd = function () {
    var box = els.legend;
    box.hidden = false;
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  legend.addTo(map);

  var stationLayer = L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 45,
    chunkedLoading: true
  }).addTo(map);
  var resultLayer = L.layerGroup().addTo(map);
  var stationMarkers = {};
  var resultMarkers = {};
  var queryMarker = null;
  var completedSearches = 0;
  var pending = null;

  // Country outlines from Natural Earth (vendor/world-atlas), China lightly
  // highlighted: enough to read the map by when no tile server answers.
  function drawCountries() {
    fetch("vendor/world-atlas/countries-110m.json").then(function (res) {
      if (!res.ok) { throw new Error("HTTP " + res.status); }
      return res.json();
    }).then(function (world) {
      var all = world.objects.countries;
      // Natural Earth draws Taiwan (158) apart; here it is part of China (156).
      var isChina = function (g) { return g.id === "156" || g.id === "158"; };
      var others = { type: "GeometryCollection", geometries: all.geometries.filter(function (g) { return !isChina(g); }) };
      L.geoJSON(topojson.feature(world, others), {
        pane: "base", interactive: false,
        style: { color: "#a9b6c0", weight: 1, fillColor: "#f6f4ee", fillOpacity: 1 }
      }).addTo(map);
      L.geoJSON(topojson.merge(world, all.geometries.filter(isChina)), {
        pane: "base", interactive: false,
        style: { color: "#8a99a5", weight: 1.5, fillColor: "#fff3d4", fillOpacity: 1 }
      }).addTo(map);
      document.body.dataset.basemap = "ready";
    }).catch(function () {
      document.body.dataset.basemap = "error";
    });
  }

  function drawProvinceNames() {
    var labels = PROVINCES.map(function (p) {
      return {
        from: p[3],
        marker: L.marker([p[1], p[2]], {
          pane: "base", interactive: false, keyboard: false,
          icon: L.divIcon({ className: "province-label", html: p[0], iconSize: [60, 16], iconAnchor: [30, 8] })
        })
      };
    });
    // Beyond zoom 8 a name at the capital would read as the city's.
    function update() {
      var z = map.getZoom();
      labels.forEach(function (l) {
        var on = z >= l.from && z <= 8;
        if (on !== map.hasLayer(l.marker)) {
          if (on) { l.marker.addTo(map); } else { map.removeLayer(l.marker); }
        }
      });
    }
    map.on("zoomend", update);
    update();
  }

  // A faint 5-degree grid with labels: bearings for "lat,lon" searches.
  function drawGraticule() {
    var grid = L.layerGroup();
    var style = { pane: "base", color: "#9aa9b5", weight: 1, opacity: 0.4, interactive: false, dashArray: "2 4" };
    function label(at, text, anchor) {
      L.marker(at, { pane: "base", interactive: false, keyboard: false,
        icon: L.divIcon({ className: "grid-label", html: text, iconSize: [44, 14], iconAnchor: anchor }) }).addTo(grid);
    }
    for (var lat = 15; lat <= 55; lat += 5) {
      L.polyline([[lat, 70], [lat, 140]], style).addTo(grid);
      if (lat > 15) { label([lat, 70], lat + "°N", [-3, 14]); }
    }
    for (var lon = 70; lon <= 140; lon += 5) {
      L.polyline([[15, lon], [55, lon]], style).addTo(grid);
      label([15, lon], lon + "°E", [-3, -2]);
    }
    grid.addTo(map);
  }

  // --- the map on phones: opened on demand ---------------------------------

  function mapOpen() {
    return !PHONE.matches || els.layout.classList.contains("map-open");
  }

  function setMapOpen(open) {
    els.layout.classList.toggle("map-open", open);
    els.mapToggle.setAttribute("aria-expanded", open ? "true" : "false");
    els.mapToggle.replaceChildren(
      document.createTextNode(open ? "收起地图 " : "在地图上查看 "),
      el("span", "en", open ? "Hide map" : "Map")
    );
    document.body.dataset.map = open ? "open" : "closed";
    if (open && PHONE.matches) {
      els.map.scrollIntoView({ block: "nearest" });
    }
  }

  els.mapToggle.addEventListener("click", function () {
    setMapOpen(!els.layout.classList.contains("map-open"));
  });
  setMapOpen(false);

  function updateFilterCount() {
    var n = [els.service.value, els.product.value, els.openNow.checked ? "1" : ""]
      .filter(Boolean).length;
    els.filterCount.textContent = n ? "（已选 " + n + " 项）" : "";
  }

  // --- small helpers ------------------------------------------------------

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) { e.className = className; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  function offersOnsite(services) {
    return (services || []).indexOf("onsite") >= 0;
  }

  function stationIcon(services) {
    var onsite = offersOnsite(services);
    return L.divIcon({
      className: "station-marker " + (onsite ? "onsite" : "carry-in"),
      iconSize: [14, 14],
      iconAnchor: [7, 7],
      popupAnchor: [0, -8]
    });
  }

  function productsText(products) {
    return (products || []).map(function (p) { return PRODUCT_NAMES[p] || p; }).join("、");
  }

  function phoneLink(phone) {
    var a = el("a", "phone", phone);
    a.href = "tel:" + phone.replace(/[^0-9+]/g, "");
    a.setAttribute("aria-label", "拨打 " + phone);
    return a;
  }

  function openBadge(s) {
    var st = openState(s);
    var badge = el("span", "badge " + (st.open ? "open" : "closed"), st.text);
    badge.title = st.en;
    return badge;
  }

  function popupContent(s) {
    var box = el("div", "popup");
    box.appendChild(el("strong", "popup-name", s.name));
    box.appendChild(el("div", "popup-address", [s.province, s.city, s.address].filter(Boolean).join(" ")));
    if (s.phone) { box.appendChild(phoneLink(s.phone)); }
    box.appendChild(openBadge(s));
    box.appendChild(el("div", "popup-hours", "营业时间 " + hoursText(s.opening_hours)));
    box.appendChild(el("div", "popup-services",
      (s.services || []).map(function (v) { return SERVICE_NAMES[v] || v; }).join(" · ")));
    if (s.products && s.products.length) {
      box.appendChild(el("div", "popup-products", "可修 " + productsText(s.products)));
    }
    return box;
  }

  // --- API answers in Chinese ---------------------------------------------

  function fetchJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        return { status: res.status, ok: res.ok, body: body };
      });
    });
  }

  // One field's problem as a sentence; the API's own words are English.
  function fieldSentence(f) {
    var m = f.message || "";
    switch (f.field) {
      case "lat":
      case "lon":
        if (/go together/.test(m)) { return "纬度和经度要一起填写，例如 31.46,104.68。"; }
        if (/give lat and lon/.test(m)) { return "请输入地址或坐标。"; }
        return "坐标超出范围：纬度应在 -90 到 90 之间，经度在 -180 到 180 之间，例如 31.46,104.68。";
      case "address":
        if (/not both/.test(m)) { return "请只输入地址或坐标中的一种。"; }
        return "没有找到这个地址所在的地区，请写上省、市或区县名，例如「绵阳涪城」。";
      case "k": return "数量应为 1 到 100 之间的整数。";
      case "service": return "服务方式无效，请重新选择。";
      case "product": return "产品类型无效，请重新选择。";
      case "open_now":
      case "open_at": return "营业时间条件无效。";
      case "max_km": return "距离范围无效。";
      case "crs":
      case "out_crs": return "页面地址中的坐标系参数（crs）无效。";
      default: return "查询条件有误。";
    }
  }

  var CODE_SENTENCES = {
    not_found: "没有找到相关内容。",
    payload_too_large: "输入内容太长。",
    rate_limited: "查询太频繁，请稍后再试。",
    too_many_requests: "查询太频繁，请稍后再试。",
    unavailable: "服务暂时不可用，请稍后再试。",
    internal: "服务器出错了，请稍后再试。"
  };

  // The Chinese sentence for a refused request (`r` from fetchJson).
  function apiMessage(r) {
    var e = (r.body && r.body.error) || {};
    var fields = e.details && Array.isArray(e.details.fields) ? e.details.fields : [];
    if ((e.code === "invalid_input" || e.code === "invalid_parameter") && fields.length) {
      var seen = {};
      return fields.map(fieldSentence).filter(function (s) {
        if (seen[s]) { return false; }
        seen[s] = true;
        return true;
      }).join("");
    }
    if (e.code === "invalid_input" || e.code === "invalid_parameter") { return "查询条件有误，请检查后重试。"; }
    if (r.status === 429) { return CODE_SENTENCES.rate_limited; }
    return CODE_SENTENCES[e.code] || "查询失败（错误 " + r.status + "），请稍后再试。";
  }

  function showErrorWithCode(message, r) {
    showError(message);
    if (r && r.body && r.body.error) {
      els.error.dataset.code = r.body.error.code || "";
      // The API's own words, for whoever supports the customer.
      els.error.title = r.body.error.message || "";
    }
  }

  // --- all stations -------------------------------------------------------

  function loadStations() {
    var markers = [];
    function page(cursor) {
      var url = API + "/stations?format=geojson&limit=5000&crs=" + encodeURIComponent(config.crs) +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      return fetchJson(url).then(function (r) {
        if (!r.ok || !r.body) { throw new Error(apiMessage(r)); }
        r.body.features.forEach(function (f) {
          var p = f.properties;
          var c = f.geometry.coordinates;
          var m = L.marker([c[1], c[0]], {
            icon: stationIcon(p.services),
            title: p.name,
            alt: p.name
          });
          m.bindPopup(function () { return popupContent(p); });
          stationMarkers[p.id] = m;
          markers.push(m);
        });
        return r.body.next_cursor ? page(r.body.next_cursor) : null;
      });
    }
    page(null).then(function () {
      stationLayer.addLayers(markers);
      var onsite = markers.filter(function (m) {
        return m.options.icon.options.className.indexOf("onsite") >= 0;
      }).length;
      els.summary.replaceChildren(
        document.createTextNode("全国共 " + markers.length + " 个网点，其中 " + onsite + " 个提供上门服务 "),
        el("span", "en", markers.length + " stations, " + onsite + " on-site")
      );
      document.body.dataset.stations = String(markers.length);
    }).catch(function (e) {
      els.summary.textContent = e instanceof TypeError
        ? "网点加载失败：无法连接服务器，请检查网络后刷新。"
        : "网点加载失败：" + e.message;
      document.body.dataset.stations = "error";
    });
  }

  // --- search -------------------------------------------------------------

  var LATLON = /^\s*([-+]?\d+(?:\.\d+)?)\s*[,，\s]\s*([-+]?\d+(?:\.\d+)?)\s*$/;

  function filterParams() {
    var p = new URLSearchParams();
    var k = els.k.value.trim();
    if (k) { p.set("k", k); }
    if (els.service.value) { p.set("service", els.service.value); }
    if (els.product.value) { p.set("product", els.product.value); }
    if (els.openNow.checked) { p.set("open_now", "true"); }
    return p;
  }

  // `where` is {lat, lon, crs} or {address}.
  function search(where) {
    var p = filterParams();
    if (where.address !== undefined) {
      p.set("address", where.address);
      p.set("crs", config.crs);
    } else {
      p.set("lat", String(where.lat));
      p.set("lon", String(where.lon));
      p.set("crs", where.crs || config.crs);
    }
    var seq = {};
    pending = seq;
    setBusy(true);
    fetchJson(API + "/stations/nearest?" + p.toString()).then(function (r) {
      if (pending !== seq) { return; }
      if (r.ok && r.body) { showResults(r.body); } else { showErrorWithCode(apiMessage(r), r); }
    }, function () {
      if (pending !== seq) { return; }
      showError("无法连接服务器，请检查网络后重试。");
    }).then(function () {
      if (pending !== seq) { return; }
      pending = null;
      setBusy(false);
      completedSearches += 1;
      document.body.dataset.searches = String(completedSearches);
    });
  }

  function setBusy(busy) {
    els.results.setAttribute("aria-busy", busy ? "true" : "false");
    els.search.disabled = busy;
    if (busy) {
      els.results.dataset.state = "loading";
      els.status.textContent = "正在查询…";
    }
  }

  function clearResults() {
    els.results.replaceChildren();
    resultLayer.clearLayers();
    resultMarkers = {};
    els.division.hidden = true;
    els.division.textContent = "";
    els.error.hidden = true;
    els.error.textContent = "";
    els.error.removeAttribute("title");
    delete els.error.dataset.code;
  }

  function showError(message) {
    clearResults();
    els.error.textContent = message;
    els.error.hidden = false;
    els.status.textContent = "";
    els.results.dataset.state = "error";
  }

  function divisionText(d) {
    var parts = [d.province, d.city, d.district].filter(Boolean);
    // Deduplicate "北京市 北京市" style names of municipalities.
    parts = parts.filter(function (x, i) { return parts.indexOf(x) === i; });
    if (!parts.length) { parts = [d.name]; }
    return parts.join(" ");
  }

  function showResults(body) {
    clearResults();
    var q = body.query;
    if (q.division) {
      els.division.replaceChildren(
        el("span", "label", "已定位到 "),
        el("strong", "division-name", divisionText(q.division)),
        el("span", "division-level", "（" + (LEVEL_NAMES[q.division.level] || q.division.level) + "）")
      );
      if (q.remainder) {
        els.division.appendChild(el("span", "remainder", " · 未识别部分：" + q.remainder));
      }
      els.division.hidden = false;
    }
    setQueryPoint(q.lat, q.lon);

    var results = body.results;
    if (!results.length) {
      els.status.textContent = "没有符合条件的网点，请放宽筛选条件。";
      els.results.dataset.state = "done";
      frame(L.latLngBounds([[q.lat, q.lon]]).pad(0.5), { maxZoom: 9 });
      return;
    }
    els.status.textContent = "离您最近的 " + results.length + " 个网点";
    var bounds = L.latLngBounds([[q.lat, q.lon]]);
    results.forEach(function (r, i) {
      var s = r.station;
      els.results.appendChild(resultItem(s, r.distance_m, i + 1));
      var m = L.marker([s.lat, s.lon], {
        icon: L.divIcon({
          className: "result-marker " + (offersOnsite(s.services) ? "onsite" : "carry-in"),
          html: "<span>" + (i + 1) + "</span>",
          iconSize: [26, 26],
          iconAnchor: [13, 13],
          popupAnchor: [0, -14]
        }),
        title: s.name,
        alt: (i + 1) + ". " + s.name,
        zIndexOffset: 1000 - i
      }).bindPopup(popupContent(s));
      m.on("click", function () { select(s.id, false); });
      m.addTo(resultLayer);
      resultMarkers[s.id] = m;
      bounds.extend([s.lat, s.lon]);
    });
    frame(bounds, { padding: [40, 40], maxZoom: 13 });
    els.results.dataset.state = "done";
  }

  function setQueryPoint(lat, lon) {
    if (queryMarker) { map.removeLayer(queryMarker); }
    queryMarker = L.marker([lat, lon], {
      icon: L.divIcon({ className: "query-marker", iconSize: [18, 18], iconAnchor: [9, 9] }),
      title: "查询位置",
      keyboard: false,
      zIndexOffset: 2000
    }).addTo(map);
  }

  function distanceText(m) {
    return (m / 1000).toFixed(1) + " km";
  }

  function resultItem(s, distanceM, rank) {
    var li = el("li", "result");
    li.tabIndex = 0;
    li.dataset.id = s.id;
    li.dataset.distanceM = String(distanceM);

    var head = el("div", "result-head");
    head.appendChild(el("span", "rank", String(rank)));
    head.appendChild(el("span", "name", s.name));
    var distance = el("span", "distance", distanceText(distanceM));
    distance.setAttribute("aria-label", "距离 " + distanceText(distanceM));
    head.appendChild(distance);
    li.appendChild(head);

    var state = el("div", "open-state");
    state.appendChild(openBadge(s));
    li.appendChild(state);

    var contact = el("div", "contact");
    if (s.phone) { contact.appendChild(phoneLink(s.phone)); }
    li.appendChild(contact);

    li.appendChild(el("div", "address", [s.province, s.city, s.address].filter(Boolean).join(" ")));
    li.appendChild(el("div", "hours", "营业时间 " + hoursText(s.opening_hours)));
    var services = el("div", "services");
    (s.services || []).forEach(function (v) {
      services.appendChild(el("span", "tag " + v.replace("_", "-"), SERVICE_NAMES[v] || v));
    });
    if (s.onsite_radius_km && offersOnsite(s.services)) {
      services.appendChild(el("span", "radius", "上门范围 " + s.onsite_radius_km + " km"));
    }
    li.appendChild(services);
    if (s.products && s.products.length) {
      li.appendChild(el("div", "products", "可修 " + productsText(s.products)));
    }

    li.addEventListener("click", function (ev) {
      if (ev.target.closest("a")) { return; }
      select(s.id, true);
    });
    return li;
  }

  function items() {
    return Array.prototype.slice.call(els.results.querySelectorAll("li.result"));
  }

  // Marks one result as chosen in the list and on the map.
  function select(id, fromList) {
    items().forEach(function (li) {
      var on = li.dataset.id === id;
      li.classList.toggle("selected", on);
      if (on) { li.setAttribute("aria-current", "true"); } else { li.removeAttribute("aria-current"); }
      if (on && !fromList) { li.scrollIntoView({ block: "nearest" }); }
    });
    Object.keys(resultMarkers).forEach(function (k) {
      var icon = resultMarkers[k].getElement();
      if (icon) { icon.classList.toggle("selected", k === id); }
    });
    var m = resultMarkers[id];
    // On a phone a closed map stays closed: the card already says it all.
    if (m && fromList && mapOpen()) {
      map.panTo(m.getLatLng());
      m.openPopup();
    }
  }

  els.results.addEventListener("keydown", function (ev) {
    var list = items();
    var i = list.indexOf(document.activeElement);
    if (i < 0) { return; }
    var next = null;
    switch (ev.key) {
      case "ArrowDown": next = list[Math.min(i + 1, list.length - 1)]; break;
      case "ArrowUp": next = list[Math.max(i - 1, 0)]; break;
      case "Home": next = list[0]; break;
      case "End": next = list[list.length - 1]; break;
      case "Enter":
      case " ":
        ev.preventDefault();
        select(list[i].dataset.id, true);
        return;
      default: return;
    }
    ev.preventDefault();
    next.focus();
  });

  els.form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = els.q.value.trim();
    if (!text) {
      showError("请输入地址或坐标，例如「绵阳涪城临园路」或 31.46,104.68。");
      els.q.focus();
      return;
    }
    var m = LATLON.exec(text);
    if (m) {
      search({ lat: m[1], lon: m[2] });
    } else {
      search({ address: text });
    }
  });

  // Changing a filter re-runs the last search.
  [els.service, els.product, els.openNow].forEach(function (input) {
    input.addEventListener("change", function () {
      updateFilterCount();
      if (els.q.value.trim()) { els.form.requestSubmit(); }
    });
  });

  map.on("click", function (ev) {
    var p = ev.latlng.wrap();
    els.q.value = p.lat.toFixed(5) + "," + p.lng.toFixed(5);
    search({ lat: p.lat.toFixed(6), lon: p.lng.toFixed(6) });
  });

  var LOCATION_ERRORS = {
    1: "您没有允许本页使用位置，请在浏览器设置中允许，或直接输入地址。",
    2: "暂时无法确定您的位置，请直接输入地址。",
    3: "获取位置超时，请重试或直接输入地址。"
  };

  els.locate.addEventListener("click", function () {
    if (!navigator.geolocation) {
      showError("此浏览器不支持定位，请直接输入地址。");
      return;
    }
    els.status.textContent = "正在获取您的位置…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      var lat = pos.coords.latitude.toFixed(6);
      var lon = pos.coords.longitude.toFixed(6);
      els.q.value = lat + "," + lon;
      // Browsers report WGS-84 whatever the tiles use.
      search({ lat: lat, lon: lon, crs: "wgs84" });
    }, function (err) {
      showError(LOCATION_ERRORS[err.code] || "无法获取您的位置，请直接输入地址。");
    }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 });
  });

  els.status.textContent = "输入地址或坐标，或使用您的位置，查找最近的维修网点。";
  loadStations();
  // ?q=... (and the filter names) start a search, so other systems can link
  // straight to a customer's nearest stations.
  if (params.get("q")) {
    els.q.value = params.get("q");
    if (params.get("k")) { els.k.value = params.get("k"); }
    if (params.get("service")) { els.service.value = params.get("service"); }
    if (params.get("product")) { els.product.value = params.get("product"); }
    els.openNow.checked = params.get("open_now") === "true";
    updateFilterCount();
    // Filters a link sets are shown, not folded away.
    els.filters.open = Boolean(els.filterCount.textContent);
    els.form.requestSubmit();
  }
})();
