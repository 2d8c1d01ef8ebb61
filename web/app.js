// The station map: every station clustered on a Leaflet map, and a
// nearest-station search (address, "lat,lon", the browser's location or a
// click on the map) whose results are listed and numbered on the map.
// Plain script, no build step; everything the page shows comes from the
// /api/v1 JSON API, and it stays usable when no map tiles load.
(function () {
  "use strict";

  var API = "api/v1";
  var CHINA = [[18.0, 73.5], [53.6, 135.1]];

  var SERVICE_NAMES = { onsite: "上门 On-site", carry_in: "送修 Carry-in" };
  var PRODUCT_NAMES = {
    notebook: "笔记本", desktop: "台式机", all_in_one: "一体机", monitor: "显示器",
    tablet: "平板", printer: "打印机", server: "服务器"
  };
  var LEVEL_NAMES = { province: "省级", city: "市级", district: "区县级" };

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    form: $("search-form"), q: $("q"), search: $("search"), locate: $("locate"),
    service: $("service"), product: $("product"), k: $("k"), openNow: $("open-now"),
    error: $("error"), division: $("division"), status: $("status"),
    results: $("results"), summary: $("summary"), map: $("map")
  };

  // Tile settings: the map element's data attributes, overridable from the
  // page URL so a deployment or a bookmark can point at an internal tile server.
  var params = new URLSearchParams(window.location.search);
  var config = {
    tiles: params.get("tiles") || els.map.dataset.tiles || "none",
    attribution: params.has("tiles") ? (params.get("attribution") || "") : (els.map.dataset.attribution || ""),
    maxZoom: Number(els.map.dataset.maxZoom) || 18,
    // Station points are requested in the tiles' coordinate system so they
    // sit on the right streets of AMap / Baidu tiles.
    crs: params.get("crs") || els.map.dataset.crs || "wgs84"
  };

  var map = L.map("map", { zoomControl: true, minZoom: 3, worldCopyJump: true });
  map.fitBounds(CHINA);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');

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
  var note = L.control({ position: "bottomleft" });
  note.onAdd = function () {
    return el("div", "tiles-note", "底图不可用，仅显示网点 · Map tiles unavailable");
  };
  note.addTo(map);

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

  // A faint 5-degree grid with labels: some bearings when tiles are missing.
  function drawGraticule() {
    var grid = L.layerGroup();
    var style = { color: "#9aa9b5", weight: 1, opacity: 0.5, interactive: false, dashArray: "2 4" };
    function label(at, text, anchor) {
      L.marker(at, { interactive: false, keyboard: false,
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

  function servicesText(services) {
    return (services || []).map(function (s) { return SERVICE_NAMES[s] || s; }).join(" · ");
  }

  function productsText(products) {
    return (products || []).map(function (p) { return PRODUCT_NAMES[p] || p; }).join("、");
  }

  function popupContent(s) {
    var box = el("div", "popup");
    box.appendChild(el("strong", "popup-name", s.name));
    box.appendChild(el("div", "popup-address", [s.province, s.city, s.address].filter(Boolean).join(" ")));
    if (s.phone) {
      var a = el("a", "phone", "☎ " + s.phone);
      a.href = "tel:" + s.phone.replace(/[^0-9+]/g, "");
      box.appendChild(a);
    }
    box.appendChild(el("div", "popup-hours", "营业时间 " + s.opening_hours));
    box.appendChild(el("div", "popup-services", servicesText(s.services)));
    if (s.products && s.products.length) {
      box.appendChild(el("div", "popup-products", productsText(s.products)));
    }
    return box;
  }

  // --- all stations -------------------------------------------------------

  function fetchJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        return { status: res.status, ok: res.ok, body: body };
      });
    });
  }

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
      els.summary.textContent = "全国共 " + markers.length + " 个网点，其中 " + onsite +
        " 个提供上门服务 · " + markers.length + " stations, " + onsite + " on-site";
      document.body.dataset.stations = String(markers.length);
    }).catch(function (e) {
      els.summary.textContent = "网点加载失败 Could not load stations: " + e.message;
      document.body.dataset.stations = "error";
    });
  }

  // --- search -------------------------------------------------------------

  var LATLON = /^\s*([-+]?\d+(?:\.\d+)?)\s*[,，\s]\s*([-+]?\d+(?:\.\d+)?)\s*$/;

  function apiMessage(r) {
    if (r.body && r.body.error && r.body.error.message) { return r.body.error.message; }
    return "服务器错误 Server error (HTTP " + r.status + ")";
  }

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
      if (r.ok && r.body) { showResults(r.body); } else { showError(apiMessage(r)); }
    }, function (e) {
      if (pending !== seq) { return; }
      showError("无法连接服务器 Cannot reach the server (" + e.message + ")");
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
      els.status.textContent = "正在查询… Searching…";
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
        el("span", "label", "已定位到 Matched: "),
        el("strong", "division-name", divisionText(q.division)),
        el("span", "division-level", " (" + (LEVEL_NAMES[q.division.level] || q.division.level) + ")")
      );
      if (q.remainder) {
        els.division.appendChild(el("span", "remainder", " · 未匹配部分 not matched: " + q.remainder));
      }
      els.division.hidden = false;
    }
    setQueryPoint(q.lat, q.lon);

    var results = body.results;
    if (!results.length) {
      els.status.textContent = "没有符合条件的网点 No station matches these filters.";
      els.results.dataset.state = "done";
      return;
    }
    els.status.textContent = "找到 " + results.length + " 个最近的网点 · " + results.length + " nearest stations";
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
    map.fitBounds(bounds, { padding: [40, 40], maxZoom: 13 });
    els.results.dataset.state = "done";
  }

  function setQueryPoint(lat, lon) {
    if (queryMarker) { map.removeLayer(queryMarker); }
    queryMarker = L.marker([lat, lon], {
      icon: L.divIcon({ className: "query-marker", iconSize: [18, 18], iconAnchor: [9, 9] }),
      title: "查询位置 Search point",
      keyboard: false,
      zIndexOffset: 2000
    }).addTo(map);
  }

  function resultItem(s, distanceM, rank) {
    var li = el("li", "result");
    li.tabIndex = 0;
    li.dataset.id = s.id;
    li.dataset.distanceM = String(distanceM);

    var head = el("div", "result-head");
    head.appendChild(el("span", "rank", String(rank)));
    head.appendChild(el("span", "name", s.name));
    head.appendChild(el("span", "distance", (distanceM / 1000).toFixed(1) + " km"));
    li.appendChild(head);

    li.appendChild(el("div", "address", [s.province, s.city, s.address].filter(Boolean).join(" ")));

    var contact = el("div", "contact");
    if (s.phone) {
      var a = el("a", "phone", "☎ " + s.phone);
      a.href = "tel:" + s.phone.replace(/[^0-9+]/g, "");
      a.setAttribute("aria-label", "拨打 Call " + s.phone);
      contact.appendChild(a);
    }
    var badge = el("span", "badge " + (s.open_now ? "open" : "closed"),
      s.open_now ? "营业中 Open" : "已休息 Closed");
    contact.appendChild(badge);
    li.appendChild(contact);

    li.appendChild(el("div", "hours", "营业时间 Hours: " + s.opening_hours));
    var services = el("div", "services");
    (s.services || []).forEach(function (v) {
      services.appendChild(el("span", "tag " + v.replace("_", "-"), SERVICE_NAMES[v] || v));
    });
    if (s.onsite_radius_km && offersOnsite(s.services)) {
      services.appendChild(el("span", "radius", "上门半径 " + s.onsite_radius_km + " km"));
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
    if (m && fromList) {
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
      showError("请输入地址或坐标 Enter an address or \"lat,lon\".");
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
      if (els.q.value.trim()) { els.form.requestSubmit(); }
    });
  });

  map.on("click", function (ev) {
    var p = ev.latlng.wrap();
    els.q.value = p.lat.toFixed(5) + "," + p.lng.toFixed(5);
    search({ lat: p.lat.toFixed(6), lon: p.lng.toFixed(6) });
  });

  els.locate.addEventListener("click", function () {
    if (!navigator.geolocation) {
      showError("此浏览器不支持定位 This browser cannot share its location.");
      return;
    }
    els.status.textContent = "正在获取位置… Locating…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      var lat = pos.coords.latitude.toFixed(6);
      var lon = pos.coords.longitude.toFixed(6);
      els.q.value = lat + "," + lon;
      // Browsers report WGS-84 whatever the tiles use.
      search({ lat: lat, lon: lon, crs: "wgs84" });
    }, function (err) {
      showError("无法获取位置 Could not get your location: " + err.message);
    }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 });
  });

  els.status.textContent = "输入地址或坐标，或点击地图开始查询。Search for an address or a point, or click the map.";
  loadStations();
  // ?q=... (and the filter names) start a search, so other systems can link
  // straight to a customer's nearest stations.
  if (params.get("q")) {
    els.q.value = params.get("q");
    if (params.get("k")) { els.k.value = params.get("k"); }
    if (params.get("service")) { els.service.value = params.get("service"); }
    if (params.get("product")) { els.product.value = params.get("product"); }
    els.openNow.checked = params.get("open_now") === "true";
    els.form.requestSubmit();
  }
})();
