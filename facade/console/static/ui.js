// The pages' toolkit, in one import: DOM building (text only, never markup), the three states
// of a view, tables, formats, CSV, the period and filter controls.
export { chips, copyButton, download, empty, errorBox, h, loading, mount, svg, uid } from "./dom.js";
export { fmt, toCsv, toLocalInput } from "./format.js";
export { table } from "./table.js";
export { PRESETS, periodFromParams, periodPicker, periodRange, periodToParams } from "./period.js";
export { filterEditor, filtersFromParams, filtersToParams } from "./filters.js";
