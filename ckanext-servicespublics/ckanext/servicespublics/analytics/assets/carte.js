/* The national map of public services (/carte).
 *
 * The whole state of the page lives in the query string (filters, date,
 * comparison, panel, level, selection, map position): a link opens the same
 * view.  Every number comes from the API actions servicespublics_density,
 * _evolution, _nearest and _closure_impact; the points come as vector tiles
 * from /carte/tuiles, with the same filters.  MapLibre GL JS is loaded
 * (deferred) by the page from /vendor/maplibre-gl.
 */
(function () {
  "use strict";

  var LIST_PARAMS = ["state", "close", "open"];
  var PARAMS = ["service_type", "domain", "organization", "state", "territory",
    "territory_level", "date", "compare", "panel", "level", "from", "close", "open",
    "threshold_km", "commune", "at", "view", "communes"];
  var DEFAULT_STATES = ["open", "planned_closure", "planned_opening"];
  var COLORS = ["#edf8fb", "#b2e2e2", "#66c2a4", "#2ca25f", "#006d2c"];
  var STATE_COLORS = {
    open: "#1f6fb2", planned_closure: "#e08214", planned_opening: "#2ca25f", closed: "#8c8c8c"
  };
  var DISTANCE_COLORS = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"];
  var DISTANCE_STEPS = [2000, 5000, 10000, 20000];

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else if (key === "html") {
        node.innerHTML = attrs[key];
      } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function fmt(value, digits) {
    if (value === null || value === undefined) { return "–"; }
    return Number(value).toLocaleString("fr-FR", {
      minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0
    });
  }

  function km(metres) {
    if (metres === null || metres === undefined) { return "–"; }
    return fmt(metres / 1000, 1) + " km";
  }

  function init() {
    var root = $("sp-carte");
    if (!root || !window.maplibregl) { return; }
    var config = JSON.parse(root.getAttribute("data-config"));
    var T = JSON.parse(root.getAttribute("data-strings"));
    var state = readState();
    var densityData = null;
    var boundaries = {};
    var requestSeq = {};
    var territoryChoices = {};

    // -- state <-> URL ------------------------------------------------------
    function readState() {
      var params = new URLSearchParams(window.location.search);
      var s = {};
      PARAMS.forEach(function (key) {
        var values = params.getAll(key);
        if (!values.length) { return; }
        if (LIST_PARAMS.indexOf(key) >= 0) {
          s[key] = values.join(",").split(",").filter(Boolean);
        } else { s[key] = values[0]; }
      });
      s.state = s.state || DEFAULT_STATES.slice();
      s.panel = s.panel || "density";
      s.level = s.level || "departement";
      s.close = s.close || [];
      s.open = s.open || [];
      return s;
    }

    function query(keys, extra) {
      var params = new URLSearchParams();
      keys.forEach(function (key) {
        var value = state[key];
        if (value === undefined || value === null || value === "") { return; }
        if (Array.isArray(value)) {
          if (value.length) { params.set(key, value.join(",")); }
        } else { params.set(key, value); }
      });
      Object.keys(extra || {}).forEach(function (key) {
        if (extra[key] !== undefined && extra[key] !== null && extra[key] !== "") {
          params.set(key, extra[key]);
        }
      });
      return params.toString();
    }

    var FILTERS = ["service_type", "domain", "organization", "territory", "territory_level",
      "date"];

    function writeState() {
      var qs = query(PARAMS.filter(function (k) {
        return !(k === "state" && state.state.join(",") === DEFAULT_STATES.join(","));
      }));
      var url = window.location.pathname + (qs ? "?" + qs : "");
      window.history.replaceState(null, "", url);
      $("sp-share-link").value = window.location.origin + url;
      $("sp-export-csv").href = config.urls.exportCsv + "?" + query(FILTERS.concat(["state"]));
      $("sp-export-geojson").href = config.urls.exportGeojson + "?" +
        query(FILTERS.concat(["state"]));
      $("sp-density-csv").href = config.urls.densityCsv + "?" +
        query(FILTERS.concat(["level"]));
    }

    function status(text) { $("sp-carte-status").textContent = text || ""; }

    function api(action, params) {
      var seq = (requestSeq[action] || 0) + 1;
      requestSeq[action] = seq;
      return fetch(config.urls.api + action + "?" + params, {credentials: "same-origin"})
        .then(function (res) {
          return res.json().then(function (body) {
            if (requestSeq[action] !== seq) { throw {stale: true}; }
            if (!body.success) {
              var error = body.error || {};
              var message = Object.keys(error).filter(function (k) {
                return k !== "__type";
              }).map(function (k) { return k + " : " + [].concat(error[k]).join(" "); });
              throw {message: message.join(" ; ") || error.message || T.error};
            }
            return body.result;
          });
        });
    }

    function failed(target) {
      return function (error) {
        if (error && error.stale) { return; }
        if (target) {
          target.innerHTML = "";
          target.appendChild(el("p", {"class": "sp-error", text: T.error + " : " +
            ((error && error.message) || error)}));
        }
        status("");
      };
    }

    // -- form ---------------------------------------------------------------
    var form = $("sp-carte-filters");
    config.domains.forEach(function (d) {
      $("sp-domain").appendChild(el("option", {value: d.code, text: d.label}));
    });
    function fillTypes() {
      var select = $("sp-service-type");
      var keep = select.options[0];
      select.innerHTML = "";
      select.appendChild(keep);
      config.serviceTypes.forEach(function (t) {
        if (!state.domain || t.domain === state.domain) {
          select.appendChild(el("option", {value: t.code, text: t.label}));
        }
      });
      select.value = state.service_type || "";
    }
    config.organizations.forEach(function (o) {
      $("sp-organization").appendChild(el("option", {value: o.name, text: o.title || o.name}));
    });
    var earliest = new Date("2000-01-01T00:00:00Z");
    var today = new Date(config.today + "T00:00:00Z");
    var days = Math.round((today - earliest) / 86400000);
    $("sp-date-slider").max = String(days);

    function isoOf(dayIndex) {
      return new Date(earliest.getTime() + dayIndex * 86400000).toISOString().slice(0, 10);
    }

    function applyStateToForm() {
      $("sp-domain").value = state.domain || "";
      fillTypes();
      $("sp-organization").value = state.organization || "";
      Array.prototype.forEach.call(form.querySelectorAll("input[name=state]"), function (box) {
        box.checked = state.state.indexOf(box.value) >= 0;
      });
      $("sp-date").value = state.date || config.today;
      var d = new Date((state.date || config.today) + "T00:00:00Z");
      $("sp-date-slider").value = String(Math.round((d - earliest) / 86400000));
      $("sp-compare-on").checked = !!state.compare;
      $("sp-compare").disabled = !state.compare;
      $("sp-compare").value = state.compare || "";
      $("sp-level").value = state.level;
      $("sp-threshold").value = state.threshold_km || config.threshold;
      $("sp-evolution-from").value = state.from || defaultFrom();
      $("sp-territory-current").textContent = state.territory ?
        (state.territory_label || state.territory) : "";
    }

    function defaultFrom() {
      var d = new Date((state.date || config.today) + "T00:00:00Z");
      d.setUTCFullYear(d.getUTCFullYear() - 5);
      return d.toISOString().slice(0, 10);
    }

    function changed(what) {
      writeState();
      refresh(what);
    }

    $("sp-domain").addEventListener("change", function () {
      state.domain = this.value || undefined;
      fillTypes();
      state.service_type = $("sp-service-type").value || undefined;
      changed("filters");
    });
    $("sp-service-type").addEventListener("change", function () {
      state.service_type = this.value || undefined;
      changed("filters");
    });
    $("sp-organization").addEventListener("change", function () {
      state.organization = this.value || undefined;
      changed("filters");
    });
    Array.prototype.forEach.call(form.querySelectorAll("input[name=state]"), function (box) {
      box.addEventListener("change", function () {
        state.state = Array.prototype.filter.call(
          form.querySelectorAll("input[name=state]"), function (b) { return b.checked; }
        ).map(function (b) { return b.value; });
        changed("tiles");
      });
    });
    $("sp-date").addEventListener("change", function () {
      state.date = this.value && this.value !== config.today ? this.value : undefined;
      applyStateToForm();
      changed("filters");
    });
    $("sp-date-slider").addEventListener("change", function () {
      var iso = isoOf(Number(this.value));
      state.date = iso === config.today ? undefined : iso;
      $("sp-date").value = iso;
      changed("filters");
    });
    $("sp-compare-on").addEventListener("change", function () {
      state.compare = this.checked ? ($("sp-compare").value || defaultFrom()) : undefined;
      applyStateToForm();
      changed("tiles");
    });
    $("sp-compare").addEventListener("change", function () {
      state.compare = this.value || undefined;
      changed("tiles");
    });
    $("sp-level").addEventListener("change", function () {
      state.level = this.value;
      changed("density");
    });
    $("sp-evolution-from").addEventListener("change", function () {
      state.from = this.value || undefined;
      changed("evolution");
    });
    $("sp-threshold").addEventListener("change", function () {
      state.threshold_km = this.value || undefined;
      writeState();
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); });

    // territory box: names or codes, through servicespublics_territory_search
    function searchTerritories(input, list, level) {
      var timer = null;
      input.addEventListener("input", function () {
        var q = input.value.trim();
        if (territoryChoices[q]) { return; }
        clearTimeout(timer);
        if (q.length < 2) { return; }
        timer = setTimeout(function () {
          var params = "q=" + encodeURIComponent(q) + "&limit=10" +
            (level ? "&level=" + level : "");
          api("servicespublics_territory_search", params).then(function (rows) {
            list.innerHTML = "";
            rows.forEach(function (row) {
              var label = row.label + " – " + row.level.replace("_", " ") + " " + row.code;
              territoryChoices[label] = row;
              list.appendChild(el("option", {value: label}));
            });
          }).catch(function () {});
        }, 200);
      });
    }
    searchTerritories($("sp-territory"), $("sp-territory-list"));
    searchTerritories($("sp-nearest-commune"), $("sp-commune-list"), "commune");

    function chooseTerritory(value) {
      value = value.trim();
      if (!value) {
        state.territory = state.territory_level = state.territory_label = undefined;
        applyStateToForm();
        changed("filters");
        return;
      }
      var row = territoryChoices[value];
      var code = row ? row.code : value.toUpperCase();
      var level = row ? row.level : undefined;
      fetch(config.urls.extent + "?territory=" + encodeURIComponent(code) +
        (level ? "&territory_level=" + level : ""))
        .then(function (res) {
          if (!res.ok) { throw {message: value}; }
          return res.json();
        })
        .then(function (found) {
          state.territory = found.code;
          state.territory_level = found.level;
          state.territory_label = found.label;
          $("sp-territory").value = "";
          applyStateToForm();
          map.fitBounds([[found.bbox[0], found.bbox[1]], [found.bbox[2], found.bbox[3]]],
            {padding: 20, duration: 0});
          changed("filters");
        })
        .catch(function () {
          $("sp-territory-current").textContent = T.noData + " : " + value;
        });
    }
    $("sp-territory").addEventListener("change", function () { chooseTerritory(this.value); });
    $("sp-territory").addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); chooseTerritory(this.value); }
    });

    // -- panels -------------------------------------------------------------
    function showPanel(name) {
      state.panel = name;
      Array.prototype.forEach.call(document.querySelectorAll(".sp-tabs .nav-link"),
        function (a) { a.classList.toggle("active", a.getAttribute("data-panel") === name); });
      Array.prototype.forEach.call(document.querySelectorAll(".sp-panel"), function (p) {
        p.hidden = p.getAttribute("data-panel") !== name;
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll(".sp-tabs .nav-link"),
      function (a) {
        a.addEventListener("click", function (e) {
          e.preventDefault();
          showPanel(a.getAttribute("data-panel"));
          changed("panel");
        });
      });

    // -- map ----------------------------------------------------------------
    var view = (state.view || "").split("/").map(Number);
    var style = {
      version: 8, sources: {},
      layers: [{id: "background", type: "background", paint: {"background-color": "#eef2f5"}}]
    };
    if (config.basemap && config.basemap.tile_url) {
      style.sources.basemap = {type: "raster", tiles: [config.basemap.tile_url], tileSize: 256,
        attribution: config.basemap.attribution || ""};
      style.layers.push({id: "basemap", type: "raster", source: "basemap"});
    }
    var map = new window.maplibregl.Map({
      container: "sp-carte-map",
      style: config.basemap && config.basemap.style_url ? config.basemap.style_url : style,
      center: view.length === 3 && !isNaN(view[2]) ? [view[2], view[1]] : [2.4, 46.6],
      zoom: view.length === 3 && !isNaN(view[0]) ? view[0] : 4.6,
      preserveDrawingBuffer: true,
      canvasContextAttributes: {preserveDrawingBuffer: true, antialias: true},
      attributionControl: {compact: true}
    });
    map.addControl(new window.maplibregl.NavigationControl({showCompass: false}));
    window.spCarte = {map: map, state: state};

    function tileUrl() {
      var extra = {};
      if (state.panel === "evolution") {
        extra.compare = state.from || defaultFrom();
      } else if (state.compare) { extra.compare = state.compare; }
      // absolute: MapLibre fetches the tiles from a web worker
      return new URL(config.urls.tiles, window.location.href).href.replace(/%7B/g, "{")
        .replace(/%7D/g, "}") + "?" + query(FILTERS.concat(["state"]), extra);
    }

    function loadBoundaries(level) {
      if (boundaries[level]) { return Promise.resolve(boundaries[level]); }
      return fetch(config.urls.territories.replace("LEVEL", level))
        .then(function (res) { return res.json(); })
        .then(function (data) { boundaries[level] = data; return data; });
    }

    map.on("load", function () {
      // the départements' outlines, whatever the panel: where things are
      map.addSource("outline", {type: "geojson", data: {type: "FeatureCollection",
        features: []}});
      map.addLayer({id: "sp-outline-fill", type: "fill", source: "outline",
        paint: {"fill-color": "#ffffff", "fill-opacity": 0.6}});
      map.addLayer({id: "sp-outline", type: "line", source: "outline",
        paint: {"line-color": "#9aa9b8", "line-width": 0.5}});
      loadBoundaries("departement").then(function (data) {
        map.getSource("outline").setData(data);
      });
      map.addSource("choropleth", {type: "geojson", data: {type: "FeatureCollection",
        features: []}});
      map.addLayer({id: "sp-choropleth", type: "fill", source: "choropleth",
        filter: ["==", ["geometry-type"], "Polygon"],
        paint: {"fill-color": ["case", ["==", ["get", "v"], null], "rgba(0,0,0,0)",
          ["step", ["get", "v"], COLORS[0], 0, COLORS[0]]], "fill-opacity": 0.7}});
      map.addLayer({id: "sp-choropleth-multi", type: "fill", source: "choropleth",
        filter: ["==", ["geometry-type"], "MultiPolygon"],
        paint: {"fill-color": "rgba(0,0,0,0)", "fill-opacity": 0.7}});
      map.addLayer({id: "sp-choropleth-line", type: "line", source: "choropleth",
        paint: {"line-color": "#5a6b7b", "line-width": 0.6}});
      map.addLayer({id: "sp-choropleth-circles", type: "circle", source: "choropleth",
        filter: ["==", ["geometry-type"], "Point"],
        paint: {"circle-radius": 5, "circle-color": "#999", "circle-stroke-width": 0.5,
          "circle-stroke-color": "#333"}});
      map.addSource("points", {type: "vector", tiles: [tileUrl()], maxzoom: 14});
      map.addLayer({id: "sp-clusters", type: "circle", source: "points", "source-layer": "points",
        filter: ["has", "count"],
        paint: {
          "circle-radius": ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, 4, 30, 22],
          "circle-color": ["case",
            [">", ["get", "closed"], ["get", "opened"]], "#d73027",
            [">", ["get", "opened"], 0], "#1a9850", "#1f6fb2"],
          "circle-opacity": 0.75, "circle-stroke-color": "#fff", "circle-stroke-width": 1}});
      map.addLayer({id: "sp-points", type: "circle", source: "points", "source-layer": "points",
        filter: ["!", ["has", "count"]],
        paint: {
          "circle-radius": ["case", ["boolean", ["feature-state", "selected"], false], 9, 5],
          "circle-color": ["case",
            ["==", ["get", "change"], "opened"], "#1a9850",
            ["==", ["get", "change"], "closed"], "#d73027",
            ["match", ["get", "state"], "open", STATE_COLORS.open,
              "planned_closure", STATE_COLORS.planned_closure,
              "planned_opening", "#ffffff", STATE_COLORS.closed]],
          "circle-stroke-color": ["case",
            ["boolean", ["feature-state", "selected"], false], "#000",
            ["==", ["get", "state"], "planned_opening"], STATE_COLORS.planned_opening, "#fff"],
          "circle-stroke-width": ["case",
            ["boolean", ["feature-state", "selected"], false], 3,
            ["==", ["get", "state"], "planned_opening"], 2.5, 1]}});
      map.addSource("overlay", {type: "geojson", data: {type: "FeatureCollection",
        features: []}});
      map.addLayer({id: "sp-overlay-lines", type: "line", source: "overlay",
        filter: ["==", ["geometry-type"], "LineString"],
        paint: {"line-color": "#222", "line-width": 1.5, "line-dasharray": [2, 2]}});
      map.addLayer({id: "sp-overlay", type: "circle", source: "overlay",
        filter: ["==", ["geometry-type"], "Point"],
        paint: {"circle-radius": ["coalesce", ["get", "r"], 5],
          "circle-color": ["coalesce", ["get", "color"], "#000"],
          "circle-stroke-color": "#fff", "circle-stroke-width": 0.5}});

      map.on("click", "sp-points", function (e) {
        var f = e.features && e.features[0];
        if (!f) { return; }
        if (state.panel === "impact") {
          toggleSelection(f);
          e.preventDefault();
        } else {
          new window.maplibregl.Popup().setLngLat(e.lngLat).setHTML(
            "<strong>" + escapeHtml(f.properties.name || "") + "</strong><br>" +
            escapeHtml(typeLabel(f.properties.type)) + "<br>" +
            escapeHtml(T[f.properties.state] || f.properties.state || "")).addTo(map);
        }
      });
      map.on("click", function (e) {
        if (e.defaultPrevented || state.panel !== "nearest") { return; }
        state.at = e.lngLat.lng.toFixed(5) + "," + e.lngLat.lat.toFixed(5);
        state.commune = undefined;
        changed("nearest");
      });
      ["sp-points", "sp-clusters"].forEach(function (layer) {
        map.on("mouseenter", layer, function () { map.getCanvas().style.cursor = "pointer"; });
        map.on("mouseleave", layer, function () { map.getCanvas().style.cursor = ""; });
      });
      map.on("moveend", function () {
        var c = map.getCenter();
        state.view = map.getZoom().toFixed(2) + "/" + c.lat.toFixed(4) + "/" + c.lng.toFixed(4);
        writeState();
      });
      map.on("idle", function () { root.setAttribute("data-ready", "1"); });
      showPanel(state.panel);
      writeState();
      refresh("all");
    });

    function escapeHtml(text) {
      return String(text).replace(/[&<>"']/g, function (c) {
        return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
      });
    }

    function typeLabel(code) {
      for (var i = 0; i < config.serviceTypes.length; i++) {
        if (config.serviceTypes[i].code === code) { return config.serviceTypes[i].label; }
      }
      return code || "";
    }

    function setOverlay(features) {
      var source = map.getSource("overlay");
      if (source) { source.setData({type: "FeatureCollection", features: features || []}); }
    }

    function refresh(what) {
      if (!map.getSource("points")) { return; }
      map.getSource("points").setTiles([tileUrl()]);
      root.setAttribute("data-tiles", tileUrl());
      if (what === "tiles") { return; }
      setOverlay([]);
      if (state.panel === "density") { loadDensity(); } else { clearChoropleth(); }
      if (state.panel === "evolution") { loadEvolution(); }
      if (state.panel === "nearest") { loadNearest(); }
      if (state.panel === "impact") { renderSelection(); if (what !== "panel") {
        $("sp-impact-result").innerHTML = ""; } }
    }

    // -- density --------------------------------------------------------------
    function clearChoropleth() {
      var source = map.getSource("choropleth");
      if (source) { source.setData({type: "FeatureCollection", features: []}); }
    }

    function loadDensity() {
      status(T.loading);
      var params = query(FILTERS.concat(["level"]));
      Promise.all([api("servicespublics_density", params), loadBoundaries(state.level)])
        .then(function (results) {
          densityData = results[0];
          renderDensity(results[0], results[1]);
          status("");
        }).catch(failed($("sp-density-summary")));
    }

    function renderDensity(result, layer) {
      var values = {};
      result.territories.forEach(function (row) { values[row.code] = row; });
      var features = layer.features.filter(function (f) {
        return !state.territory || values[f.properties.code];
      }).map(function (f) {
        var row = values[f.properties.code];
        return {type: "Feature", geometry: f.geometry, properties: {
          code: f.properties.code, name: f.properties.name,
          v: row && row.per_10000 !== null ? row.per_10000 : null}};
      });
      var breaks = result.breaks;
      var step = ["step", ["get", "v"], COLORS[0]];
      breaks.slice(0, -1).forEach(function (b, i) { step.push(b + 1e-9, COLORS[i + 1]); });
      var color = ["case", ["==", ["get", "v"], null], "rgba(0,0,0,0)", step];
      map.setPaintProperty("sp-choropleth", "fill-color", color);
      map.setPaintProperty("sp-choropleth-multi", "fill-color", color);
      map.setPaintProperty("sp-choropleth-circles", "circle-color",
        ["case", ["==", ["get", "v"], null], "#ccc", step]);
      map.getSource("choropleth").setData({type: "FeatureCollection", features: features});

      var summary = $("sp-density-summary");
      summary.innerHTML = "";
      summary.appendChild(el("p", {}, [el("strong", {text: fmt(result.count)}), " " + T.services +
        " · ", el("strong", {"class": "sp-density-national", text: fmt(result.per_10000, 2)}),
        " " + T.per10000]));
      if (result.unassigned) {
        summary.appendChild(el("p", {"class": "sp-help", text: fmt(result.unassigned) + " " +
          T.unassigned}));
      }
      var legend = $("sp-density-legend");
      legend.innerHTML = "";
      var low = 0;
      breaks.forEach(function (b, i) {
        legend.appendChild(el("div", {"class": "sp-legend-row"}, [
          el("span", {"class": "sp-swatch", style: "background:" + COLORS[i]}),
          (i === 0 ? "≤ " : "> " + fmt(low, 2) + " – ") + fmt(b, 2)]));
        low = b;
      });
      var table = $("sp-density-table");
      table.innerHTML = "";
      table.appendChild(el("thead", {}, [el("tr", {}, [el("th", {text: T.rank}),
        el("th", {text: T.territory}), el("th", {text: T.population}),
        el("th", {text: T.count}), el("th", {text: T.density})])]));
      var body = el("tbody");
      result.territories.forEach(function (row) {
        body.appendChild(el("tr", {"data-code": row.code}, [el("td", {text: row.rank || ""}),
          el("td", {text: row.name + " (" + row.code + ")"}), el("td", {text: fmt(row.population)}),
          el("td", {text: fmt(row.count)}), el("td", {text: fmt(row.per_10000, 2)})]));
      });
      table.appendChild(body);
    }

    // -- evolution ------------------------------------------------------------
    function loadEvolution() {
      status(T.loading);
      var extra = {date_from: state.from || defaultFrom(), date_to: state.date || config.today};
      api("servicespublics_evolution", query(FILTERS.filter(function (k) {
        return k !== "date";
      }).concat(["level"]), extra)).then(function (result) {
        renderEvolution(result);
        status("");
      }).catch(failed($("sp-evolution-summary")));
    }

    function renderEvolution(result) {
      var t = result.totals;
      var summary = $("sp-evolution-summary");
      summary.innerHTML = "";
      summary.appendChild(el("ul", {"class": "sp-figures"}, [
        el("li", {}, [T.countOn + " " + result.date_from + " : ", el("strong", {
          text: fmt(t.count_from)})]),
        el("li", {}, [T.countOn + " " + result.date_to + " : ", el("strong", {
          text: fmt(t.count_to)})]),
        el("li", {"class": "sp-openings"}, [T.openings + " : ", el("strong", {
          text: fmt(t.openings)}), " (" + T.fromVersions + " : " + fmt(t.openings_from_versions) +
          ")"]),
        el("li", {"class": "sp-closures"}, [T.closures + " : ", el("strong", {
          text: fmt(t.closures)}), " (" + T.fromVersions + " : " +
          fmt(t.closures_from_versions) + ")"]),
        t.planned_openings ? el("li", {text: T.plannedOpenings + " : " +
          fmt(t.planned_openings)}) : null,
        t.planned_closures ? el("li", {text: T.plannedClosures + " : " +
          fmt(t.planned_closures)}) : null
      ]));
      $("sp-evolution-chart").innerHTML = "";
      $("sp-evolution-chart").appendChild(chart(result.series));
      var table = $("sp-evolution-table");
      table.innerHTML = "";
      table.appendChild(el("thead", {}, [el("tr", {}, [el("th", {text: T.territory}),
        el("th", {text: result.date_from}), el("th", {text: result.date_to}),
        el("th", {text: T.openings}), el("th", {text: T.closures}), el("th", {text: T.net})])]));
      var body = el("tbody");
      result.territories.filter(function (row) {
        return row.count_from || row.count_to || row.openings || row.closures;
      }).sort(function (a, b) { return a.net - b.net; }).forEach(function (row) {
        body.appendChild(el("tr", {"data-code": row.code}, [
          el("td", {text: row.name + " (" + row.code + ")"}), el("td", {text: fmt(row.count_from)}),
          el("td", {text: fmt(row.count_to)}), el("td", {text: fmt(row.openings)}),
          el("td", {text: fmt(row.closures)}), el("td", {text: fmt(row.net)})]));
      });
      table.appendChild(body);
    }

    /* A dependency-free SVG chart: openings (up) and closures (down) per
     * period as bars, services in operation as a line. */
    function chart(series) {
      var ns = "http://www.w3.org/2000/svg";
      var w = 360, h = 200, left = 40, right = 40, top = 20, bottom = 30;
      var svg = document.createElementNS(ns, "svg");
      svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      svg.setAttribute("class", "sp-svg-chart");
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", T.chartTitle);
      function node(tag, attrs, text) {
        var n = document.createElementNS(ns, tag);
        Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
        if (text !== undefined) { n.textContent = text; }
        svg.appendChild(n);
        return n;
      }
      if (!series.length) { return svg; }
      var maxEvent = Math.max(1, Math.max.apply(null, series.map(function (s) {
        return Math.max(s.openings, s.closures);
      })));
      var counts = series.map(function (s) { return s.count; });
      var maxCount = Math.max.apply(null, counts), minCount = Math.min.apply(null, counts);
      if (maxCount === minCount) { maxCount += 1; minCount = Math.max(0, minCount - 1); }
      var plotW = w - left - right, plotH = h - top - bottom, mid = top + plotH / 2;
      var bw = plotW / series.length;
      node("line", {x1: left, x2: w - right, y1: mid, y2: mid, stroke: "#999"});
      var points = [];
      series.forEach(function (s, i) {
        var x = left + i * bw;
        var up = (s.openings / maxEvent) * (plotH / 2);
        var down = (s.closures / maxEvent) * (plotH / 2);
        var opacity = s.future ? 0.4 : 0.9;
        if (s.openings) {
          node("rect", {x: x + bw * 0.1, y: mid - up, width: Math.max(1, bw * 0.8), height: up,
            fill: "#1a9850", "fill-opacity": opacity, "class": "sp-bar-openings"})
            .appendChild(document.createElementNS(ns, "title")).textContent =
            s.period + " : " + s.openings + " " + T.openings.toLowerCase();
        }
        if (s.closures) {
          node("rect", {x: x + bw * 0.1, y: mid, width: Math.max(1, bw * 0.8), height: down,
            fill: "#d73027", "fill-opacity": opacity, "class": "sp-bar-closures"})
            .appendChild(document.createElementNS(ns, "title")).textContent =
            s.period + " : " + s.closures + " " + T.closures.toLowerCase();
        }
        var y = top + plotH - ((s.count - minCount) / (maxCount - minCount)) * plotH;
        points.push((x + bw / 2).toFixed(1) + "," + y.toFixed(1));
      });
      node("polyline", {points: points.join(" "), fill: "none", stroke: "#1f6fb2",
        "stroke-width": 2, "class": "sp-line-count"});
      node("text", {x: left - 4, y: top + 4, "text-anchor": "end", "font-size": 10},
        fmt(maxEvent));
      node("text", {x: w - right + 4, y: top + 4, "font-size": 10, fill: "#1f6fb2"},
        fmt(maxCount));
      node("text", {x: w - right + 4, y: top + plotH, "font-size": 10, fill: "#1f6fb2"},
        fmt(minCount));
      node("text", {x: left, y: h - 8, "font-size": 10}, series[0].period);
      node("text", {x: w - right, y: h - 8, "font-size": 10, "text-anchor": "end"},
        series[series.length - 1].period);
      return svg;
    }

    // -- nearest --------------------------------------------------------------
    $("sp-nearest-commune").addEventListener("change", function () {
      var row = territoryChoices[this.value.trim()];
      var code = row ? row.code : this.value.trim();
      if (!code) { return; }
      state.commune = code;
      state.at = undefined;
      changed("nearest");
    });
    $("sp-nearest-communes").addEventListener("click", function () {
      state.communes = "1";
      changed("nearest");
    });

    function loadNearest() {
      var target = $("sp-nearest-result");
      var features = [];
      if (state.commune || state.at) {
        var extra = {limit: 5};
        if (state.commune) { extra.commune = state.commune; } else {
          var at = state.at.split(",");
          extra.longitude = at[0];
          extra.latitude = at[1];
        }
        status(T.loading);
        api("servicespublics_nearest", query(FILTERS.filter(function (k) {
          return k !== "territory" && k !== "territory_level";
        }), extra)).then(function (result) {
          status("");
          target.innerHTML = "";
          var from = [result.from.longitude, result.from.latitude];
          features.push({type: "Feature", geometry: {type: "Point", coordinates: from},
            properties: {color: "#000", r: 6}});
          if (result.from.commune) {
            target.appendChild(el("p", {text: T.commune + " : " + result.from.commune.label}));
          }
          var list = el("ol", {"class": "sp-nearest-list"});
          result.services.forEach(function (s) {
            list.appendChild(el("li", {"data-id": s.id}, [el("strong", {text: s.name || ""}),
              " – " + typeLabel(s.service_type) + " – ", el("span", {"class": "sp-distance",
                text: km(s.distance)})]));
            features.push({type: "Feature", geometry: {type: "LineString", coordinates: [from,
              [s.longitude, s.latitude]]}, properties: {}});
          });
          target.appendChild(result.services.length ? list : el("p", {text: T.noData}));
          setOverlay(features.concat(communeFeatures));
        }).catch(failed(target));
      } else {
        target.innerHTML = "";
        target.appendChild(el("p", {"class": "sp-help", text: T.clickMap}));
      }
      if (state.communes) { loadCommuneDistances(); }
    }

    var communeFeatures = [];

    function loadCommuneDistances() {
      var target = $("sp-nearest-communes-result");
      status(T.loading);
      api("servicespublics_nearest", query(FILTERS.concat(["threshold_km"]))).then(
        function (result) {
          status("");
          var s = result.summary;
          target.innerHTML = "";
          target.appendChild(el("ul", {"class": "sp-figures"}, [
            el("li", {text: T.meanDistance + " : " + km(s.mean_distance)}),
            el("li", {text: T.communesBeyond + " (" + fmt(s.threshold / 1000, 1) + " km) : " +
              fmt(s.communes_beyond)}),
            el("li", {text: T.populationBeyond + " : " + fmt(s.population_beyond)}),
            s.communes_without_position ? el("li", {text: fmt(s.communes_without_position) +
              " " + T.noPosition}) : null]));
          var far = result.communes.filter(function (c) { return c.distance !== null; })
            .sort(function (a, b) { return b.distance - a.distance; }).slice(0, 15);
          var table = el("table", {"class": "table table-sm sp-table"}, [el("thead", {}, [
            el("tr", {}, [el("th", {text: T.commune}), el("th", {text: T.population}),
              el("th", {text: T.distance})])])]);
          var body = el("tbody");
          far.forEach(function (c) {
            body.appendChild(el("tr", {}, [el("td", {text: c.name + " (" + c.code + ")"}),
              el("td", {text: fmt(c.population)}), el("td", {text: km(c.distance)})]));
          });
          table.appendChild(body);
          target.appendChild(table);
          communeFeatures = result.communes.filter(function (c) {
            return c.longitude !== null && c.distance !== null;
          }).map(function (c) {
            var i = 0;
            while (i < DISTANCE_STEPS.length && c.distance > DISTANCE_STEPS[i]) { i++; }
            return {type: "Feature", geometry: {type: "Point", coordinates: [c.longitude,
              c.latitude]}, properties: {color: DISTANCE_COLORS[i], r: 3}};
          });
          setOverlay(communeFeatures);
        }).catch(failed(target));
    }

    // -- impact ---------------------------------------------------------------
    var selectedNames = {};

    function toggleSelection(f) {
      var id = String(f.id !== undefined ? f.id : f.properties.id);
      var list = f.properties.state === "planned_opening" ? "open" : "close";
      var index = state[list].indexOf(id);
      if (index >= 0) { state[list].splice(index, 1); } else { state[list].push(id); }
      selectedNames[id] = f.properties.name;
      map.setFeatureState({source: "points", sourceLayer: "points", id: Number(id)},
        {selected: index < 0});
      writeState();
      renderSelection();
    }

    function renderSelection() {
      var target = $("sp-impact-selection");
      target.innerHTML = "";
      var ids = state.close.map(function (i) { return ["close", i]; }).concat(
        state.open.map(function (i) { return ["open", i]; }));
      if (!ids.length) {
        target.appendChild(el("p", {"class": "sp-help", text: T.noneSelected}));
        return;
      }
      var list = el("ul", {"class": "sp-selection"});
      ids.forEach(function (pair) {
        var button = el("button", {type: "button", "class": "btn btn-link btn-sm",
          text: T.remove});
        button.addEventListener("click", function () {
          state[pair[0]].splice(state[pair[0]].indexOf(pair[1]), 1);
          map.setFeatureState({source: "points", sourceLayer: "points", id: Number(pair[1])},
            {selected: false});
          writeState();
          renderSelection();
        });
        list.appendChild(el("li", {"data-id": pair[1]}, [(pair[0] === "open" ? T.open_ :
          T.closedBetween) + " : " + (selectedNames[pair[1]] || "#" + pair[1]) + " ", button]));
      });
      target.appendChild(list);
    }

    $("sp-impact-run").addEventListener("click", function () {
      var target = $("sp-impact-result");
      state.threshold_km = $("sp-threshold").value || undefined;
      writeState();
      status(T.loading);
      api("servicespublics_closure_impact", query(FILTERS.concat(["close", "open",
        "threshold_km"]))).then(function (result) {
        status("");
        target.innerHTML = "";
        result.closed.concat(result.opened).forEach(function (p) {
          if (p.id) { selectedNames[String(p.id)] = p.name; }
        });
        renderSelection();
        target.appendChild(el("table", {"class": "table table-sm sp-table sp-impact-totals"}, [
          el("thead", {}, [el("tr", {}, [el("th"), el("th", {text: T.before}),
            el("th", {text: T.after})])]),
          el("tbody", {}, [
            el("tr", {}, [el("th", {text: T.populationBeyond}),
              el("td", {text: fmt(result.before.population_beyond)}),
              el("td", {"class": "sp-after-population", text: fmt(result.after.population_beyond)})]),
            el("tr", {}, [el("th", {text: T.communesBeyond}),
              el("td", {text: fmt(result.before.communes_beyond)}),
              el("td", {text: fmt(result.after.communes_beyond)})]),
            el("tr", {}, [el("th", {text: T.meanDistance}),
              el("td", {text: km(result.before.mean_distance)}),
              el("td", {text: km(result.after.mean_distance)})])])]));
        target.appendChild(el("p", {}, [T.newlyBeyond + " : ", el("strong", {
          "class": "sp-newly-population", text: fmt(result.newly_beyond.population)}),
          " (" + fmt(result.newly_beyond.communes) + ")"]));
        var body = el("tbody");
        var features = [];
        result.communes.slice(0, 50).forEach(function (c) {
          body.appendChild(el("tr", {"class": c.beyond_after && !c.beyond_before ?
            "sp-newly" : ""}, [el("td", {text: c.name + " (" + c.code + ")"}),
            el("td", {text: fmt(c.population)}), el("td", {text: km(c.distance_before)}),
            el("td", {text: km(c.distance_after)})]));
        });
        result.communes.forEach(function (c) {
          features.push({type: "Feature", geometry: {type: "Point", coordinates: [c.longitude,
            c.latitude]}, properties: {color: c.beyond_after && !c.beyond_before ? "#d73027" :
            "#fc8d59", r: 4}});
        });
        target.appendChild(el("table", {"class": "table table-sm sp-table sp-impact-communes"}, [
          el("thead", {}, [el("tr", {}, [el("th", {text: T.commune}),
            el("th", {text: T.population}), el("th", {text: T.before}),
            el("th", {text: T.after})])]), body]));
        setOverlay(features);
      }).catch(failed(target));
    });

    // -- share ----------------------------------------------------------------
    $("sp-export-png").addEventListener("click", function () {
      var link = el("a", {download: "carte-services-publics.png",
        href: map.getCanvas().toDataURL("image/png")});
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
    $("sp-share-link").addEventListener("focus", function () { this.select(); });

    applyStateToForm();
    renderSelection();
    if (state.territory) {  // a shared link: name the territory, zoom if no position
      fetch(config.urls.extent + "?territory=" + encodeURIComponent(state.territory) +
        (state.territory_level ? "&territory_level=" + state.territory_level : ""))
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (found) {
          if (!found) { return; }
          state.territory_label = found.label;
          $("sp-territory-current").textContent = found.label;
          if (!state.view) {
            map.fitBounds([[found.bbox[0], found.bbox[1]], [found.bbox[2], found.bbox[3]]],
              {padding: 20, duration: 0});
          }
        });
    }
  }

  if (document.readyState === "complete") { init(); } else {
    window.addEventListener("load", init);
  }
}());
