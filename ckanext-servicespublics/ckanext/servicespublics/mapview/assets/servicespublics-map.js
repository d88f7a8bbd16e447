/* servicespublics-map: the map of a resource's service points (MapLibre GL JS).
 *
 * The points come as vector tiles from /servicespublics/tiles/<id>/{z}/{x}/{y}.pbf
 * (layer "points": n = how many points a feature stands for, t = their
 * service type when they share one, name and status for a single point, whose
 * feature id is the point's id). The browser never loads the whole file.
 *
 * Keyboard and screen readers: the map canvas is focusable (arrows move,
 * + and - zoom), the points and groups in view are listed as buttons beside
 * the map, the search box finds points by name, and every popup takes the
 * focus and gives it back when closed (Escape closes it).
 *
 * Options (data-module-config, built by the plugin): see presentation.view_config.
 */
this.ckan.module("servicespublics-map", function ($) {
  "use strict";

  var SOURCE = "sp-points";
  var LAYER = "points";
  var MAX_LISTED = 100;
  var MAX_LABELS = 400;
  var STYLE_TIMEOUT = 5000;
  var FRANCE = [-5.3, 41.3, 9.7, 51.2];

  function format(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : all;
    });
  }

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attributes[key]; }
      else if (key === "className") { node.className = attributes[key]; }
      else { node.setAttribute(key, attributes[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function webglAvailable() {
    try {
      var canvas = document.createElement("canvas");
      return !!(window.WebGL2RenderingContext && canvas.getContext("webgl2")) ||
        !!(window.WebGLRenderingContext && canvas.getContext("webgl"));
    } catch (e) {
      return false;
    }
  }

  function absolute(url) {
    if (/^https?:\/\//.test(url)) { return url; }
    return window.location.origin + url;
  }

  function number(value, lang) {
    try { return Number(value).toLocaleString(lang); } catch (e) { return String(value); }
  }

  return {
    options: { config: null },

    initialize: function () {
      // when each step happened (ms since navigation start), for the benchmark
      this.timing = window.servicespublicsMapTiming = { init: window.performance.now() };
      var cfg = this.options.config;
      if (typeof cfg === "string") { cfg = JSON.parse(cfg); }
      this.cfg = cfg;
      this.texts = cfg.texts || {};
      this.root = this.el[0];
      this.canvasEl = this.root.querySelector(".sp-map-canvas");
      this.statusEl = this.root.querySelector(".sp-map-notice");
      this.visibleList = this.root.querySelector(".sp-map-visible-list");
      this.visibleStatus = this.root.querySelector(".sp-map-visible-status");
      this.labels = {};
      this.lastVisibleKey = null;
      this.map = null;
      this._setupSearch();
      this._setupTerritories();
      this._whenLibrary(this._start.bind(this));
      this._resizeFrame();
    },

    // -- set up -----------------------------------------------------------------

    _whenLibrary: function (callback) {
      var self = this;
      var tries = 0;
      (function wait() {
        if (window.maplibregl) { callback(); return; }
        tries += 1;
        if (tries > 100) { self._notice(self.texts.noLibrary); return; }
        window.setTimeout(wait, 50);
      })();
    },

    _start: function () {
      var self = this;
      if (!this.cfg.tiles) { return; }  // no points yet: the template says so
      if (!webglAvailable()) {
        this._notice(this.texts.noWebGL);
        this.root.classList.add("sp-map-no-webgl");
        return;
      }
      this._style(function (style, failed, ours) {
        self._whenSized(function () { self._create(style, ours); });
        if (failed) { self._notice(self.texts.basemapFailed); }
      });
    },

    _whenSized: function (callback) {
      // the map's box gets its size from the stylesheet: wait for it (2 s at most)
      var el = this.canvasEl;
      var started = Date.now();
      (function wait() {
        if ((el.clientWidth && el.clientHeight) || Date.now() - started > 2000) {
          callback();
          return;
        }
        window.requestAnimationFrame(wait);
      })();
    },

    _plainStyle: function () {
      return {
        version: 8, sources: {},
        layers: [{ id: "sp-background", type: "background",
                   paint: { "background-color": "#eef0f3" } }]
      };
    },

    _rasterStyle: function (basemap) {
      var style = this._plainStyle();
      style.sources.basemap = {
        type: "raster", tiles: [basemap.tileUrl], tileSize: 256, maxzoom: 19,
        attribution: basemap.attribution || ""
      };
      style.layers.push({ id: "sp-basemap", type: "raster", source: "basemap" });
      return style;
    },

    _style: function (done) {
      var self = this;
      var basemap = this.cfg.basemap || {};
      var fallback = function () {
        return basemap.tileUrl ? self._rasterStyle(basemap) : self._plainStyle();
      };
      if (!basemap.styleUrl) { done(fallback(), false, true); return; }
      var finished = false;
      var timer = window.setTimeout(function () {
        if (!finished) { finished = true; done(fallback(), true, true); }
      }, STYLE_TIMEOUT);
      fetch(basemap.styleUrl, { credentials: "omit" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (style) {
          if (finished) { return; }
          finished = true;
          window.clearTimeout(timer);
          if (!style || style.version !== 8) { done(fallback(), true, true); return; }
          done(style, false, false);
        })
        .catch(function () {
          if (finished) { return; }
          finished = true;
          window.clearTimeout(timer);
          done(fallback(), true, true);
        });
    },

    _initialBounds: function () {
      var extent = this.cfg.extent || {};
      var first = (extent.territories || [])[0];
      return (first && first.bbox) || extent.bbox || FRANCE;
    },

    _create: function (style, ours) {
      var self = this;
      var t = this.texts;
      var bounds = this._initialBounds();
      if (ours) {
        // the points are part of our own style: their tiles are asked for at once
        style.sources[SOURCE] = this._source();
        style.layers = style.layers.concat(this._layers());
      }
      var map = new window.maplibregl.Map({
        container: this.canvasEl,
        style: style,
        bounds: [[bounds[0], bounds[1]], [bounds[2], bounds[3]]],
        fitBoundsOptions: { padding: 40, maxZoom: 12 },
        maxZoom: 19,
        keyboard: true,
        fadeDuration: 0,
        dragRotate: false,
        pitchWithRotate: false,
        touchPitch: false,
        attributionControl: { compact: true },
        locale: {
          "Map.Title": t.mapTitle,
          "NavigationControl.ZoomIn": t.zoomInControl,
          "NavigationControl.ZoomOut": t.zoomOutControl,
          "NavigationControl.ResetBearing": t.resetBearing,
          "Popup.Close": t.close
        }
      });
      this.map = map;
      window.servicespublicsMaps = window.servicespublicsMaps || [];
      window.servicespublicsMaps.push(map);
      map.touchZoomRotate.disableRotation();
      map.addControl(new window.maplibregl.NavigationControl({ showCompass: false }),
                     "top-right");
      map.addControl(new window.maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
      map.on("error", function (event) {
        // a basemap tile that cannot be loaded: the points are shown anyway
        if (event && event.sourceId === "basemap" && !self.basemapWarned) {
          self.basemapWarned = true;
          self._notice(t.basemapFailed);
        }
      });
      this.timing.create = window.performance.now();
      map.on("data", function (event) {
        if (event.sourceId === SOURCE && event.tile) {
          var now = window.performance.now();
          if (!self.timing.firstTile) { self.timing.firstTile = now; }
          self.timing.lastTile = now;
          self.timing.tiles = (self.timing.tiles || 0) + 1;
        }
      });
      map.on("load", function () {
        self.timing.load = window.performance.now();
        if (!ours) {
          // a basemap's style: the points on top of it
          map.addSource(SOURCE, self._source());
          self._layers().forEach(function (layer) { map.addLayer(layer); });
        }
        self._bindLayers();
        self.root.setAttribute("data-map-loaded", "true");
      });
      map.on("idle", function () {
        if (!map.getSource(SOURCE)) { return; }
        if (!self.root.hasAttribute("data-map-ready")) {
          self.timing.ready = window.performance.now();
          self.root.setAttribute("data-map-ready", String(Math.round(self.timing.ready)));
        }
        self._updateLabels();
        self._updateVisible();
      });
    },

    _colorExpression: function () {
      var colors = this.cfg.colors || {};
      var codes = Object.keys(colors);
      var byType = this.cfg.otherColor;
      if (codes.length) {
        byType = ["match", ["get", "t"]];
        codes.forEach(function (code) { byType.push(code, colors[code]); });
        byType.push(this.cfg.otherColor);
      }
      return ["case", ["has", "t"], byType, this.cfg.mixedColor];
    },

    _source: function () {
      return {
        type: "vector",
        tiles: [absolute(this.cfg.tiles)],
        minzoom: 0,
        maxzoom: this.cfg.sourceMaxZoom || 16
      };
    },

    _layers: function () {
      var color = this._colorExpression();
      return [{
        id: "sp-clusters", type: "circle", source: SOURCE, "source-layer": LAYER,
        filter: [">", ["get", "n"], 1],
        paint: {
          "circle-color": color,
          "circle-opacity": 0.85,
          "circle-radius": ["step", ["get", "n"], 11, 10, 14, 100, 18, 1000, 22, 10000, 27],
          "circle-stroke-color": "#ffffff",
          "circle-stroke-width": 2
        }
      }, {
        id: "sp-points", type: "circle", source: SOURCE, "source-layer": LAYER,
        filter: ["==", ["get", "n"], 1],
        paint: {
          "circle-color": color,
          "circle-radius": ["interpolate", ["linear"], ["zoom"], 4, 4, 12, 6, 17, 9],
          "circle-stroke-color": "#ffffff",
          "circle-stroke-width": 1.5
        }
      }, {
        id: "sp-selected", type: "circle", source: SOURCE, "source-layer": LAYER,
        filter: ["==", ["id"], -1],
        paint: {
          "circle-color": "rgba(0,0,0,0)",
          "circle-radius": ["interpolate", ["linear"], ["zoom"], 4, 8, 12, 10, 17, 13],
          "circle-stroke-color": "#000000",
          "circle-stroke-width": 3
        }
      }];
    },

    _bindLayers: function () {
      var self = this;
      var map = this.map;
      ["sp-clusters", "sp-points"].forEach(function (layer) {
        map.on("mouseenter", layer, function () { map.getCanvas().style.cursor = "pointer"; });
        map.on("mouseleave", layer, function () { map.getCanvas().style.cursor = ""; });
      });
      map.on("click", "sp-points", function (event) {
        var feature = event.features && event.features[0];
        if (feature && feature.id !== undefined) {
          self.openPoint(feature.id, feature.geometry.coordinates, null);
        }
      });
      map.on("click", "sp-clusters", function (event) {
        var feature = event.features && event.features[0];
        if (feature) { self.zoomTo(feature.geometry.coordinates); }
      });
    },

    // -- groups: their counts as labels -------------------------------------------

    _updateLabels: function () {
      var map = this.map;
      var seen = {};
      var features = map.queryRenderedFeatures({ layers: ["sp-clusters"] });
      var lang = this.cfg.lang;
      var self = this;
      features.slice(0, MAX_LABELS).forEach(function (feature) {
        var c = feature.geometry.coordinates;
        var n = feature.properties.n;
        var key = n + "@" + c[0].toFixed(5) + "," + c[1].toFixed(5);
        if (seen[key]) { return; }
        seen[key] = true;
        if (!self.labels[key]) {
          var node = element("div", { className: "sp-map-count-label", "aria-hidden": "true",
                                      text: n >= 10000 ? Math.round(n / 1000) + "k"
                                        : number(n, lang) });
          self.labels[key] = new window.maplibregl.Marker({ element: node }).setLngLat(c)
            .addTo(map);
        }
      });
      Object.keys(this.labels).forEach(function (key) {
        if (!seen[key]) { self.labels[key].remove(); delete self.labels[key]; }
      });
    },

    // -- the points and groups in view, as buttons ---------------------------------

    _visibleItems: function () {
      var map = this.map;
      var items = [];
      var seen = {};
      map.queryRenderedFeatures({ layers: ["sp-points", "sp-clusters"] }).forEach(function (f) {
        var c = f.geometry.coordinates;
        var key = f.id !== undefined && f.properties.n === 1 ? "p" + f.id
          : "c" + f.properties.n + "@" + c[0].toFixed(5) + "," + c[1].toFixed(5);
        if (seen[key]) { return; }
        seen[key] = true;
        items.push({ key: key, id: f.id, n: f.properties.n, t: f.properties.t,
                     name: f.properties.name || "", coordinates: c });
      });
      items.sort(function (a, b) {
        if ((a.n === 1) !== (b.n === 1)) { return a.n === 1 ? -1 : 1; }
        if (a.n !== b.n) { return b.n - a.n; }
        return a.name.localeCompare(b.name);
      });
      return items;
    },

    _typeLabel: function (code) {
      if (!code) { return this.texts.noType; }
      return (this.cfg.typeLabels || {})[code] || code;
    },

    _updateVisible: function () {
      if (!this.visibleList) { return; }
      var self = this;
      var t = this.texts;
      var items = this._visibleItems();
      var key = items.map(function (i) { return i.key; }).join("|");
      if (key === this.lastVisibleKey) { return; }
      this.lastVisibleKey = key;
      this.visibleList.textContent = "";
      items.slice(0, MAX_LISTED).forEach(function (item) {
        var button;
        if (item.n === 1) {
          button = element("button", { type: "button", className: "btn btn-link sp-map-item",
                                       "data-point-id": String(item.id) }, [
            element("span", { className: "sp-map-swatch", "aria-hidden": "true",
                              style: "background-color:" + self._color(item.t) }),
            element("span", { text: item.name || t.onePoint }),
            element("span", { className: "sp-map-item-type", text: " — " + self._typeLabel(item.t) })
          ]);
          button.addEventListener("click", function () {
            self.openPoint(item.id, item.coordinates, button);
          });
        } else {
          button = element("button", { type: "button", className: "btn btn-link sp-map-item" }, [
            element("span", { className: "sp-map-swatch sp-map-swatch-group", "aria-hidden": "true",
                              style: "background-color:" + self._color(item.t) }),
            element("span", { text: format(t.group, { n: number(item.n, self.cfg.lang) }) }),
            element("span", { className: "sp-map-item-type",
                              text: " — " + (item.t ? self._typeLabel(item.t) : t.mixed) })
          ]);
          button.setAttribute("aria-label", format(t.group, { n: item.n }) + ", " + t.zoomIn);
          button.addEventListener("click", function () {
            self.zoomTo(item.coordinates);
            if (self.visibleStatus) { self.visibleStatus.focus(); }
          });
        }
        self.visibleList.appendChild(element("li", {}, [button]));
      });
      var status = items.length === 1 ? t.visibleOne
        : items.length ? format(t.visibleCount, { n: number(items.length, this.cfg.lang) })
          : t.visibleNone;
      if (items.length > MAX_LISTED) { status += " " + format(t.visibleMore, { shown: MAX_LISTED }); }
      if (this.visibleStatus) { this.visibleStatus.textContent = status; }
      this._resizeFrame();
    },

    _color: function (code) {
      if (!code) { return this.cfg.mixedColor; }
      return (this.cfg.colors || {})[code] || this.cfg.otherColor;
    },

    zoomTo: function (coordinates) {
      var zoom = Math.min(this.map.getZoom() + 2, (this.cfg.clusterMaxZoom || 13) + 1);
      this.map.easeTo({ center: coordinates, zoom: zoom });
    },

    // -- a point's popup --------------------------------------------------------------

    _fetchPoint: function (id) {
      var url = this.cfg.pointUrl + "?" + $.param({ resource_id: this.cfg.resourceId, id: id });
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok || !body.success) { throw new Error("HTTP " + response.status); }
            return body.result;
          });
        });
    },

    _date: function (value) {
      if (!value) { return ""; }
      var date = new Date(value + "T00:00:00");
      if (isNaN(date.getTime())) { return value; }
      try {
        return date.toLocaleDateString(this.cfg.lang, { year: "numeric", month: "long",
                                                         day: "numeric" });
      } catch (e) {
        return value;
      }
    },

    pointContent: function (point) {
      var t = this.texts;
      var rows = [];
      var add = function (label, value) {
        if (value === null || value === undefined || value === "") { return; }
        rows.push(element("dt", { text: label }));
        rows.push(element("dd", {}, [typeof value === "string"
          ? document.createTextNode(value) : value]));
      };
      var statuses = this.cfg.statusLabels || {};
      var address = [point.address, point.postcode].filter(Boolean).join(", ");
      add(t.type, point.service_type_label || this._typeLabel(point.service_type));
      add(t.address, address);
      add(t.hours, point.opening_hours);
      add(t.openingDate, this._date(point.opening_date));
      add(t.closingDate, this._date(point.closing_date));
      add(t.status, point.status ? (statuses[point.status] || point.status_label ||
                                    point.status) : "");
      if (point.phone) {
        add(t.phone, element("a", { href: "tel:" + point.phone.replace(/\s+/g, ""),
                                    text: point.phone }));
      }
      if (point.email) {
        add(t.email, element("a", { href: "mailto:" + point.email, text: point.email }));
      }
      if (point.website && /^https?:\/\//i.test(point.website)) {
        add(t.website, element("a", { href: point.website, text: point.website,
                                      target: "_blank", rel: "noopener noreferrer" }));
      }
      // tabindex: a long popup scrolls with the keyboard too
      return element("div", { className: "sp-map-popup", lang: this.cfg.lang, tabindex: "0" }, [
        element("h3", { className: "sp-map-popup-title", text: point.name || t.onePoint }),
        element("dl", {}, rows)
      ]);
    },

    openPoint: function (id, coordinates, trigger) {
      var self = this;
      var map = this.map;
      if (!map) { return; }
      if (this.popup) { this.popup.remove(); }
      map.setFilter("sp-selected", ["==", ["id"], Number(id)]);
      var popup = new window.maplibregl.Popup({ closeButton: true, focusAfterOpen: true,
                                                maxWidth: "320px", className: "sp-map-popup-box" })
        .setLngLat(coordinates)
        .setDOMContent(element("p", { text: this.texts.loading }))
        .addTo(map);
      this.popup = popup;
      var box = popup.getElement();
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-live", "polite");
      box.addEventListener("keydown", function (event) {
        if (event.key === "Escape") { popup.remove(); }
      });
      popup.on("close", function () {
        if (self.popup === popup) {
          self.popup = null;
          map.setFilter("sp-selected", ["==", ["id"], -1]);
        }
        if (trigger && document.body.contains(trigger)) { trigger.focus(); }
      });
      this._fetchPoint(id).then(function (point) {
        if (self.popup !== popup) { return; }
        popup.setDOMContent(self.pointContent(point));
        box.setAttribute("aria-label", point.name || self.texts.onePoint);
        var close = box.querySelector(".maplibregl-popup-close-button");
        if (close) { close.focus(); }
        self.root.setAttribute("data-popup-point", String(id));
      }).catch(function () {
        if (self.popup === popup) {
          popup.setDOMContent(element("p", { text: self.texts.pointError }));
        }
      });
    },

    // -- search by name -----------------------------------------------------------------

    _setupSearch: function () {
      var self = this;
      var form = this.root.querySelector(".sp-map-search");
      if (!form) { return; }
      this.searchInput = form.querySelector("input[type=search]");
      this.searchResults = form.querySelector(".sp-map-search-results");
      this.searchStatus = form.querySelector(".sp-map-search-status");
      var timer = null;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        window.clearTimeout(timer);
        self.search(self.searchInput.value);
      });
      this.searchInput.addEventListener("input", function () {
        window.clearTimeout(timer);
        var value = self.searchInput.value.trim();
        if (value.length >= 2) {
          timer = window.setTimeout(function () { self.search(value); }, 350);
        }
      });
    },

    search: function (text) {
      var self = this;
      var t = this.texts;
      text = (text || "").trim();
      if (text.length < 2) { this.searchStatus.textContent = t.searchShort; return; }
      var sequence = (this.searchSequence || 0) + 1;
      this.searchSequence = sequence;
      var url = this.cfg.searchUrl + "?" + $.param({ resource_id: this.cfg.resourceId, q: text,
                                                     limit: 10 });
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok || !body.success) { throw new Error("HTTP " + response.status); }
            return body.result;
          });
        })
        .then(function (result) {
          if (sequence !== self.searchSequence) { return; }
          self._showResults(result);
        })
        .catch(function () {
          if (sequence !== self.searchSequence) { return; }
          self.searchResults.textContent = "";
          self.searchStatus.textContent = t.searchError;
        });
    },

    _showResults: function (result) {
      var self = this;
      var t = this.texts;
      this.searchResults.textContent = "";
      this.searchStatus.textContent = !result.count ? t.searchNone
        : result.count === 1 && !result.more ? t.searchOne
          : format(result.more ? t.searchMore : t.searchCount,
                   { n: number(result.count, this.cfg.lang), shown: result.results.length });
      result.results.forEach(function (point) {
        var parts = [self._typeLabel(point.service_type)];
        if (point.address || point.postcode) {
          parts.push([point.address, point.postcode].filter(Boolean).join(" "));
        }
        var button = element("button", { type: "button", className: "btn btn-link sp-map-item",
                                         "data-point-id": String(point.id) }, [
          element("span", { className: "sp-map-swatch", "aria-hidden": "true",
                            style: "background-color:" + self._color(point.service_type) }),
          element("span", { text: point.name || t.onePoint }),
          element("span", { className: "sp-map-item-type", text: " — " + parts.join(", ") })
        ]);
        button.addEventListener("click", function () { self.goToPoint(point, button); });
        self.searchResults.appendChild(element("li", {}, [button]));
      });
      this._resizeFrame();
    },

    goToPoint: function (point, trigger) {
      var self = this;
      var coordinates = [point.longitude, point.latitude];
      if (!this.map) {
        // no map (no WebGL): the details under the result
        this._fetchPoint(point.id).then(function (full) {
          var holder = trigger.parentNode;
          var old = holder.querySelector(".sp-map-popup");
          if (old) { old.remove(); }
          holder.appendChild(self.pointContent(full));
          self._resizeFrame();
        });
        return;
      }
      var zoom = Math.max(this.map.getZoom(), (this.cfg.clusterMaxZoom || 13) + 2);
      this.map.once("moveend", function () { self.openPoint(point.id, coordinates, trigger); });
      this.map.jumpTo({ center: coordinates, zoom: zoom });
    },

    // -- territories (metropolitan France, overseas) ------------------------------------

    _setupTerritories: function () {
      var self = this;
      this.root.querySelectorAll(".sp-map-territory").forEach(function (button) {
        button.addEventListener("click", function () {
          var bbox = JSON.parse(button.getAttribute("data-bbox"));
          if (self.map) {
            self.map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]],
                               { padding: 40, maxZoom: 12 });
          }
        });
      });
    },

    // -- page ---------------------------------------------------------------------------

    _notice: function (text) {
      if (!this.statusEl || !text) { return; }
      this.statusEl.textContent = text;
      this.statusEl.classList.remove("d-none");
    },

    _resizeFrame: function () {
      // the resource page's iframe fits its content once, when it loads
      try {
        var frame = window.frameElement;
        if (frame) {
          var height = document.body.scrollHeight + 30;
          if (Math.abs(frame.offsetHeight - height) > 10) { frame.style.height = height + "px"; }
        }
      } catch (e) { /* another origin */ }
    }
  };
});


/* servicespublics-map-extent: the dataset's spatial extent on a small map. */
this.ckan.module("servicespublics-map-extent", function () {
  "use strict";

  function boxes(geometry) {
    var out = [];
    function walk(coords, box) {
      if (typeof coords[0] === "number") {
        box[0] = Math.min(box[0], coords[0]); box[1] = Math.min(box[1], coords[1]);
        box[2] = Math.max(box[2], coords[0]); box[3] = Math.max(box[3], coords[1]);
        return box;
      }
      coords.forEach(function (c) { walk(c, box); });
      return box;
    }
    function empty() { return [Infinity, Infinity, -Infinity, -Infinity]; }
    if (geometry.type === "MultiPolygon") {
      geometry.coordinates.forEach(function (polygon) { out.push(walk(polygon, empty())); });
    } else if (geometry.type === "GeometryCollection") {
      geometry.geometries.forEach(function (g) { out = out.concat(boxes(g)); });
    } else {
      out.push(walk(geometry.coordinates, empty()));
    }
    return out;
  }

  return {
    options: { geometry: null, basemap: null, label: "" },

    initialize: function () {
      var self = this;
      var tries = 0;
      (function wait() {
        if (window.maplibregl) { self._start(); return; }
        tries += 1;
        if (tries < 100) { window.setTimeout(wait, 50); }
      })();
    },

    _bounds: function (geometry) {
      var all = boxes(geometry).filter(function (b) { return isFinite(b[0]); });
      if (!all.length) { return null; }
      var whole = [Math.min.apply(null, all.map(function (b) { return b[0]; })),
                   Math.min.apply(null, all.map(function (b) { return b[1]; })),
                   Math.max.apply(null, all.map(function (b) { return b[2]; })),
                   Math.max.apply(null, all.map(function (b) { return b[3]; }))];
      if (whole[2] - whole[0] <= 60) { return whole; }
      // metropolitan France and overseas: show the largest part
      all.sort(function (a, b) { return (b[2] - b[0]) * (b[3] - b[1]) - (a[2] - a[0]) * (a[3] - a[1]); });
      return all[0];
    },

    _start: function () {
      var geometry = this.options.geometry;
      if (typeof geometry === "string") { geometry = JSON.parse(geometry); }
      var basemap = this.options.basemap || {};
      if (typeof basemap === "string") { basemap = JSON.parse(basemap); }
      var bounds = geometry && this._bounds(geometry);
      if (!bounds) { return; }
      var layers = [{ id: "sp-background", type: "background",
                      paint: { "background-color": "#eef0f3" } }];
      var sources = {};
      if (basemap.tileUrl) {
        sources.basemap = { type: "raster", tiles: [basemap.tileUrl], tileSize: 256,
                            maxzoom: 19, attribution: basemap.attribution || "" };
        layers.push({ id: "sp-basemap", type: "raster", source: "basemap" });
      }
      sources.extent = { type: "geojson", data: { type: "Feature", properties: {},
                                                  geometry: geometry } };
      layers.push({ id: "sp-extent-fill", type: "fill", source: "extent",
                    filter: ["==", ["geometry-type"], "Polygon"],
                    paint: { "fill-color": "#0063cb", "fill-opacity": 0.2 } });
      layers.push({ id: "sp-extent-line", type: "line", source: "extent",
                    paint: { "line-color": "#0063cb", "line-width": 2 } });
      layers.push({ id: "sp-extent-point", type: "circle", source: "extent",
                    filter: ["==", ["geometry-type"], "Point"],
                    paint: { "circle-color": "#0063cb", "circle-radius": 5 } });
      var map = new window.maplibregl.Map({
        container: this.el[0],
        style: { version: 8, sources: sources, layers: layers },
        bounds: [[bounds[0], bounds[1]], [bounds[2], bounds[3]]],
        fitBoundsOptions: { padding: 15, maxZoom: 11 },
        interactive: false,
        attributionControl: { compact: true }
      });
      var canvas = map.getCanvas();
      canvas.setAttribute("tabindex", "-1");
      canvas.setAttribute("aria-hidden", "true");
      window.servicespublicsExtentMaps = window.servicespublicsExtentMaps || [];
      window.servicespublicsExtentMaps.push(map);
      var el = this.el[0];
      map.on("idle", function () { el.setAttribute("data-map-ready", "true"); });
    }
  };
});
