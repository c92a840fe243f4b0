// Dashboards: draw the prebuilt Plotly figures, highlight and click-through, PNG and print, and the
// trust/alliance finder. Every chart has a table of the same numbers, so nothing here is needed to read a page.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function readJSON(id) {
    var holder = id && document.getElementById(id);
    return holder ? JSON.parse(holder.textContent) : null;
  }

  function onReady(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }

  // ---------------------------------------------------------------- charts

  // The one Plotly configuration of every chart: nothing is sent anywhere. No "Share chart" (Plotly's
  // button that posts the figure and its data, unsuppressed counts included, to Plotly's cloud), no
  // destination for it, no Plotly logo link; the PNG download stays. The figures from the server carry no
  // configuration of their own. Written as JSON between the markers: tests/dashboards/test_chart_config.py
  // reads it, and tests/browser/ checks every drawn chart against window.cancerplanCharts.config.
  var PLOTLY_CONFIG = deepFreeze(/* plotly-config */ {
    "displaylogo": false,
    "responsive": true,
    "showSendToCloud": false,
    "plotlyServerURL": "",
    "modeBarButtonsToRemove": [
      "sendChartToCloud", "sendDataToCloud", "editInChartStudio",
      "select2d", "lasso2d", "autoScale2d", "toggleSpikelines"
    ]
  } /* end plotly-config */);

  function deepFreeze(object) {
    Object.values(object).forEach(function (value) { if (typeof value === "object") { deepFreeze(value); } });
    return Object.freeze(object);
  }

  window.cancerplanCharts = Object.freeze({ config: PLOTLY_CONFIG });

  function config(el) {
    var own = JSON.parse(JSON.stringify(PLOTLY_CONFIG));  // Plotly keeps what it is given: a copy per chart
    own.toImageButtonOptions = { format: "png", filename: el.dataset.filename || "chart", scale: 2 };
    return own;
  }

  function highlight(el) {
    var codes = (el.dataset.highlight || "").split(",").filter(Boolean);
    if (!codes.length || !el.data) { return; }
    var xs = [], ys = [], names = [];
    el.data.forEach(function (trace) {
      if (!trace.customdata || trace.mode !== "markers") { return; }
      trace.customdata.forEach(function (row, i) {
        if (codes.indexOf(String(row[0])) !== -1) { xs.push(trace.x[i]); ys.push(trace.y[i]); names.push(row[1]); }
      });
    });
    if (!xs.length) { return; }
    window.Plotly.addTraces(el, {
      type: "scatter", mode: "markers+text", name: "Highlighted: " + (el.dataset.highlightName || codes.join(", ")),
      x: xs, y: ys, text: xs.length <= 3 ? names : [], textposition: "top center",
      textfont: { color: "#212b32", size: 13 }, hoverinfo: "skip",
      marker: { size: 22, symbol: "circle-open", color: "#212b32", line: { width: 3, color: "#212b32" } }
    });
  }

  // Keyboard users reach the table of the same numbers without Tab passing the modebar's buttons (zoom, pan and
  // the PNG download, which the "Download ... (PNG)" button below each chart also offers); a mouse still has them.
  // Plotly builds the modebar again on every redraw, so this follows each one.
  function keepModebarOutOfTabOrder(el) {
    el.querySelectorAll(".modebar-btn").forEach(function (button) { button.tabIndex = -1; });
  }

  // Printing: each drawn layer gets a viewBox of its own size (no change on screen), so the print stylesheet can
  // scale the chart to the paper's width instead of cutting it off (static/dashboards/dashboards.css, @media print).
  function scalableForPrint(el) {
    el.querySelectorAll(".main-svg").forEach(function (svg) {
      svg.setAttribute("viewBox", "0 0 " + svg.getAttribute("width") + " " + svg.getAttribute("height"));
    });
  }

  function afterEachDraw(el) {
    keepModebarOutOfTabOrder(el);
    scalableForPrint(el);
  }

  // The last kind of pointer pressed on each chart ("mouse", "pen", "touch"). A finger has no hover: its first tap
  // on a point shows that point's numbers, a second tap on the same point opens it.
  var pointerOf = new WeakMap();
  var tappedOf = new WeakMap();

  function watchPointer(el) {
    el.addEventListener("pointerdown", function (event) {
      pointerOf.set(el, event.pointerType);
    }, true);
  }

  function openOnClick(el) {
    el.on("plotly_click", function (event) {
      var point = event && event.points && event.points[0];
      var code = point && point.customdata && point.customdata[0];
      if (!code) { return; }
      if (pointerOf.get(el) === "touch" && tappedOf.get(el) !== code) {
        tappedOf.set(el, code);
        window.Plotly.Fx.hover(el, [{ curveNumber: point.curveNumber, pointNumber: point.pointNumber }]);
        return;
      }
      window.location.assign(el.dataset.clickUrl.replace("CODE", encodeURIComponent(code)));
    });
  }

  // Plotly.newPlot and Plotly.purge drop a chart's Plotly listeners, so they are bound again after each drawing.
  function draw(el, spec) {
    if (!window.Plotly || !spec) { return Promise.resolve(); }
    return window.Plotly.newPlot(el, spec.data, spec.layout, config(el)).then(function () {
      el.on("plotly_afterplot", function () { afterEachDraw(el); });
      highlight(el);
      afterEachDraw(el);
      if (el.dataset.clickUrl) { openOnClick(el); }
      el.setAttribute("data-drawn", "true");
    });
  }

  function drawAll() {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      watchPointer(el);
      draw(el, readJSON(el.dataset.figure));
    });
    // One chart, several figures: the alliance page's funnel among the 21 alliances.
    document.querySelectorAll("select[data-switch-chart]").forEach(function (select) {
      select.addEventListener("change", function () {
        var el = document.getElementById(select.dataset.switchChart);
        var option = select.options[select.selectedIndex];
        el.dataset.filename = option.dataset.filename || el.dataset.filename;
        el.dataset.chartTitle = option.dataset.chartTitle || el.dataset.chartTitle || "";
        window.Plotly.purge(el);
        draw(el, readJSON(option.value));
        document.querySelectorAll("[data-summary-for='" + select.dataset.switchChart + "']").forEach(function (p) {
          p.hidden = p.dataset.option !== option.value;
        });
      });
    });
  }

  // ---------------------------------------------------------------- PNG downloads

  // What a downloaded image says of itself, from its chart's data- attributes (the templates' {% chart_source %}):
  // its title, and a footer "Source: <audit>, release N, extract of <date>", so a slide or a board paper keeps them.
  function sourceLine(el) {
    var d = el.dataset;
    if (!d.source) { return ""; }
    return "Source: " + d.source + (d.release ? ", release " + d.release : "") + (d.releaseDate ? ", " + d.releaseDate : "");
  }

  // A copy of a drawn Plotly chart (the page's chart is left as it is) with the title above and the source below.
  function captionedFigure(el) {
    var layout = JSON.parse(JSON.stringify(el.layout || {}));
    var title = el.dataset.chartTitle || "", source = sourceLine(el);
    var margin = layout.margin || {};
    var top = margin.t == null ? 80 : margin.t, bottom = margin.b == null ? 80 : margin.b;
    var extraTop = title ? 56 : 0, extraBottom = source ? 36 : 0;
    layout.margin = Object.assign({}, margin, { t: top + extraTop, b: bottom + extraBottom });
    layout.height = (layout.height || el.offsetHeight || 460) + extraTop + extraBottom;
    layout.width = Math.max(el.offsetWidth || 0, 900);
    if (title) {
      layout.title = { text: title, x: 0.01, xanchor: "left", xref: "container", y: 1, yref: "container", yanchor: "top",
        pad: { t: 14, l: 4 }, font: { size: 17, color: "#212b32" } };
    }
    if (source) {
      layout.annotations = (layout.annotations || []).concat([{
        text: source, showarrow: false, xref: "paper", yref: "paper", x: 0, y: 0, xanchor: "left", yanchor: "top",
        yshift: -bottom - 4, font: { size: 12, color: "#4c6272" }
      }]);
    }
    return { data: JSON.parse(JSON.stringify(el.data || [])), layout: layout };
  }

  function plotlyPng(el, filename) {
    var figure = captionedFigure(el);
    return window.Plotly.toImage(figure, { format: "png", width: figure.layout.width, height: figure.layout.height, scale: 2 })
      .then(function (url) {
        var link = document.createElement("a");
        link.href = url;
        link.download = filename;
        link.hidden = true;
        document.body.appendChild(link);
        link.click();
        link.remove();
      });
  }

  function saveBlob(blob, filename) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  }

  function svgToPng(svg, width, height, filename) {
    var markup = new XMLSerializer().serializeToString(svg);
    var image = new Image();
    image.onload = function () {
      var canvas = document.createElement("canvas");
      canvas.width = width * 2; canvas.height = height * 2;
      var context = canvas.getContext("2d");
      context.fillStyle = "#ffffff"; context.fillRect(0, 0, canvas.width, canvas.height);
      context.scale(2, 2);
      context.drawImage(image, 0, 0, width, height);
      canvas.toBlob(function (blob) { saveBlob(blob, filename); }, "image/png");
    };
    image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(markup);
  }

  var SVG = "http://www.w3.org/2000/svg";
  function node(name, attrs, text) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { el.setAttribute(key, attrs[key]); });
    if (text) { el.textContent = text; }
    return el;
  }

  // The trust dashboard's spines, stacked into one image with their labels.
  function spineChartPng(table, filename) {
    var rows = table.querySelectorAll("tbody tr");
    var width = 1040, rowHeight = 44, top = 40;
    var source = sourceLine(table), footer = source ? 28 : 0;
    var height = top + rows.length * rowHeight + 10 + footer;
    var svg = node("svg", { xmlns: SVG, width: width, height: height });
    svg.appendChild(node("text", { x: 8, y: 22, "font-family": "Arial", "font-size": 16, "font-weight": "bold", fill: "#212b32" },
      table.dataset.chartTitle || ""));
    rows.forEach(function (row, i) {
      var y = top + i * rowHeight;
      var name = row.querySelector(".indicator-name");
      var value = row.querySelector(".value");
      var flag = row.querySelector(".flag");
      svg.appendChild(node("text", { x: 8, y: y + 18, "font-family": "Arial", "font-size": 13, fill: "#212b32" },
        name ? name.textContent.trim().slice(0, 52) : ""));
      svg.appendChild(node("text", { x: 380, y: y + 18, "font-family": "Arial", "font-size": 13, "font-weight": "bold", fill: "#212b32" },
        value ? value.textContent.trim() : ""));
      var spine = row.querySelector("svg.spine");
      if (spine) {
        var copy = spine.cloneNode(true);
        copy.setAttribute("x", 450); copy.setAttribute("y", y); copy.setAttribute("width", 240); copy.setAttribute("height", 34);
        svg.appendChild(copy);
      }
      svg.appendChild(node("text", { x: 705, y: y + 18, "font-family": "Arial", "font-size": 12, fill: "#212b32" },
        flag ? flag.textContent.trim().slice(0, 34) : ""));
      var spark = row.querySelector("svg.spark");
      if (spark) {
        var trend = spark.cloneNode(true);
        trend.setAttribute("x", 910); trend.setAttribute("y", y + 2); trend.setAttribute("width", 120); trend.setAttribute("height", 32);
        svg.appendChild(trend);
      }
    });
    if (source) {
      svg.appendChild(node("text", { x: 8, y: height - 10, "font-family": "Arial", "font-size": 12, fill: "#4c6272" }, source));
    }
    svgToPng(svg, width, height, filename);
  }

  function bindDownloads() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-png]");
      if (button) {
        var target = document.getElementById(button.dataset.png);
        var filename = (button.dataset.filename || "chart") + ".png";
        if (target && target.tagName.toLowerCase() === "table") {
          spineChartPng(target, filename);
        } else if (target && target.tagName.toLowerCase() === "svg") {
          var box = target.getBoundingClientRect();
          svgToPng(target, Math.round(box.width), Math.round(box.height), filename);
        } else if (target && window.Plotly && target.data) {
          plotlyPng(target, filename);
        }
        return;
      }
      if (event.target.closest("[data-print]")) { window.print(); }
    });
  }

  // ---------------------------------------------------------------- finder (type-ahead)

  function finder(input) {
    var items = readJSON(input.dataset.options) || [];
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var status = document.getElementById(input.dataset.status);
    var active = -1, shown = [];

    function score(item, words) {
      var hay = (item.name + " " + item.code).toLowerCase();
      for (var i = 0; i < words.length; i++) { if (hay.indexOf(words[i]) === -1) { return -1; } }
      if (item.code.toLowerCase() === words.join(" ")) { return 0; }
      return item.name.toLowerCase().indexOf(words[0]) === 0 ? 1 : 2;
    }
    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); active = -1; }
    function select(i) {
      var options = list.querySelectorAll("[role=option]");
      options.forEach(function (o, j) { o.setAttribute("aria-selected", String(j === i)); });
      active = i;
      if (i >= 0 && options[i]) { input.setAttribute("aria-activedescendant", options[i].id); options[i].scrollIntoView({ block: "nearest" }); }
    }
    function render() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      list.innerHTML = "";
      if (!words.length) { close(); status.textContent = ""; return; }
      shown = items.map(function (item) { return [score(item, words), item]; })
        .filter(function (pair) { return pair[0] >= 0; })
        .sort(function (a, b) { return a[0] - b[0] || a[1].name.localeCompare(b[1].name); })
        .slice(0, 10).map(function (pair) { return pair[1]; });
      shown.forEach(function (item, i) {
        var option = document.createElement("li");
        option.id = input.id + "-option-" + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.innerHTML = "";
        option.appendChild(document.createTextNode(item.name + " (" + item.code + ") "));
        var kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = "· " + item.kind;
        option.appendChild(kind);
        option.addEventListener("mousedown", function (event) { event.preventDefault(); window.location.assign(item.url); });
        list.appendChild(option);
      });
      list.hidden = shown.length === 0;
      input.setAttribute("aria-expanded", String(shown.length > 0));
      status.textContent = shown.length ? shown.length + " suggestions; use the up and down arrows to choose." : "No matches.";
      active = -1;
    }
    input.addEventListener("input", render);
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") { if (list.hidden) { render(); } select(Math.min(active + 1, shown.length - 1)); event.preventDefault(); }
      else if (event.key === "ArrowUp") { select(Math.max(active - 1, 0)); event.preventDefault(); }
      else if (event.key === "Enter" && active >= 0 && shown[active]) { event.preventDefault(); window.location.assign(shown[active].url); }
      else if (event.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  // ---------------------------------------------------------------- progress (data-quality page)

  function poll(box) {
    var url = box.dataset.statusUrl;
    var before = null;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (state) {
          var text = JSON.stringify([state.runs, state.jobs]);
          if (before !== null && text !== before) { window.location.reload(); return; }
          before = text;
          if (state.busy) { setTimeout(tick, 2000); }
        })
        .catch(function () { setTimeout(tick, 5000); });
    }
    setTimeout(tick, 1500);
  }

  // Rows of the highlighted trust or alliance (the tables are built once per run, so this is done here).
  function highlightRows() {
    document.querySelectorAll("table[data-highlight-rows]").forEach(function (table) {
      var code = table.dataset.highlightRows;
      if (!code) { return; }
      table.querySelectorAll("tbody tr").forEach(function (row) {
        if (row.dataset.code === code || row.dataset.alliance === code) { row.classList.add("is-highlighted"); }
      });
    });
  }

  onReady(function () {
    highlightRows();
    drawAll();
    bindDownloads();
    document.querySelectorAll("input[data-finder]").forEach(finder);
    document.querySelectorAll("[data-status-url][data-busy=true]").forEach(poll);
  });
})();
