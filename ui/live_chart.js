// One plotly chart that stays mounted across reruns (ui/live_chart.py says why).
// Streamlit calls this module's default export with each new `data` for the same
// parentElement; the chart is drawn again with Plotly.react, once.

let loading = null; // plotly.js, loaded once per page (by the preload, or the first chart)

// plotly.js from the installed plotly package (ui/live_chart.py: `_plotly_js_url`), as
// a classic script: it defines window.Plotly.  A full URL: this module runs from a
// blob: URL, against which paths do not resolve.
function addScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = new URL(url, window.location.href).href;
    script.onload = () => defined(url).then(resolve, reject);
    script.onerror = () => {
      script.remove(); // the next chart tries again with a script of its own
      reject(new Error(`plotly.js did not load from ${url}`));
    };
    document.head.appendChild(script);
  });
}

function defined(url) {
  return window.Plotly
    ? Promise.resolve(window.Plotly)
    : Promise.reject(new Error(`${url} did not define Plotly`));
}

// The page's preload (ui/live_chart.py: `preload`) has usually started the script; where
// it failed, before or after this chart came, the chart loads plotly.js itself.
function importPlotly(url, preloadId) {
  const preloaded = document.getElementById(preloadId);
  if (!preloaded || preloaded.dataset.failed) {
    preloaded?.remove();
    return addScript(url);
  }
  if (preloaded.dataset.loaded) return defined(url);
  return new Promise((resolve, reject) => {
    preloaded.addEventListener("load", () => defined(url).then(resolve, reject));
    preloaded.addEventListener("error", () => {
      preloaded.remove();
      addScript(url).then(resolve, reject);
    });
  });
}

function loadPlotly(url, preloadId) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = importPlotly(url, preloadId).catch((err) => {
      loading = null; // the next chart tries again
      throw err;
    });
  }
  return loading;
}

// The app theme's colours and font (Streamlit's CSS variables on the component), as
// a plotly template, so charts read on light and dark themes alike.
function template(host) {
  const css = getComputedStyle(host);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const text = v("--st-text-color", "#31333f");
  const line = v("--st-border-color", "rgba(49, 51, 63, 0.2)");
  const axis = { gridcolor: line, linecolor: line, zerolinecolor: line, tickcolor: line };
  return {
    key: `${text}|${line}|${v("--st-font", "")}|${v("--st-background-color", "")}`,
    layout: {
      font: { family: v("--st-font", "sans-serif"), color: text },
      xaxis: axis,
      yaxis: axis,
      legend: { font: { color: text } },
      hoverlabel: { font: { family: v("--st-font", "sans-serif") } },
      scene: { xaxis: axis, yaxis: axis, zaxis: axis },
    },
  };
}

export default function ({ data, parentElement, setTriggerValue }) {
  const gd = parentElement.querySelector(".live-chart");
  if (!gd) return;
  gd.style.minHeight = `${data.height}px`; // holds the chart's place until it draws
  const theme = template(parentElement);
  if (gd.__revision === data.revision && gd.__theme === theme.key) return;
  gd.__revision = data.revision;
  gd.__theme = theme.key;
  loadPlotly(data.plotly, data.preload_id)
    .then((Plotly) => {
      if (gd.__revision !== data.revision) return; // a newer figure came meanwhile
      const fig = JSON.parse(data.spec);
      fig.layout.template = { layout: theme.layout };
      const drawn = Plotly.react(gd, {
        data: fig.data,
        layout: fig.layout,
        frames: fig.frames || [],
        config: data.config,
      });
      if (!gd.__hooked) {
        gd.__hooked = true;
        // a click on a point (any trace, the invisible hover map included) reports
        // its (x, y): a trigger value, one rerun long
        gd.on("plotly_click", (event) => {
          const point = event && event.points && event.points[0];
          if (point && gd.__clickable) setTriggerValue("click", { x: point.x, y: point.y });
        });
        // the column's width changes (sidebar, window): the chart follows it
        let width = gd.clientWidth;
        new ResizeObserver(() => {
          if (gd._fullLayout && gd.clientWidth !== width) {
            width = gd.clientWidth;
            Plotly.Plots.resize(gd);
          }
        }).observe(gd);
      }
      gd.__clickable = data.clickable;
      parentElement.querySelector(".live-chart-error")?.remove();
      return drawn;
    })
    .catch((err) => {
      gd.__revision = undefined; // the next rerun tries again
      // said beside the chart (as text, never markup), which stays for the next figure
      let note = parentElement.querySelector(".live-chart-error");
      if (!note) {
        note = document.createElement("p");
        note.className = "live-chart-error";
        gd.after(note);
      }
      note.textContent = `This chart could not be drawn: ${err.message}`;
    });
}
