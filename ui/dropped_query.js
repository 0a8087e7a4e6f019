// Streamlit ignores a whole query string past its limits (it never reaches the server's
// script), so only the browser knows a link had one: the URL this page was loaded from
// (the navigation entry, not the address bar, which the app rewrites) is measured once
// per page load, and a dropped query is reported to the server (ui/dropped_query.py).
let measured = false;

export default function ({ data, setTriggerValue }) {
  if (measured) return;
  measured = true;
  const entry = performance.getEntriesByType("navigation")[0];
  const query = new URL(entry ? entry.name : window.location.href).search.slice(1);
  const fields = query ? query.split("&").length : 0;
  if (fields > data.max_fields || query.length > data.max_length) {
    setTriggerValue("dropped", { fields, length: query.length });
  }
}
