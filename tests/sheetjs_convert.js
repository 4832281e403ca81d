// A filled template re-saved by SheetJS (npm package `xlsx`), as web and office systems built on it do.
// node sheetjs_convert.js SRC.xlsx OUTDIR ITEM VALUE
// writes OUTDIR/sheetjs.xlsx, sheetjs-dates.xlsx (cellDates: dates as ISO text), sheetjs.xlsb,
// sheetjs-sst.xlsb (shared strings), and sheetjs-corrected.xlsx: the answer cell of ITEM (found by its
// defined name q_ITEM) set to the number VALUE, as a system that corrects an answer writes it.
// SheetJS leaves docProps/core.xml `modified` at the template's time in every one of them.
const XLSX = require("xlsx");
const fs = require("fs");
const path = require("path");

const [src, out, item, value] = process.argv.slice(2);
const data = fs.readFileSync(src);
const wb = XLSX.read(data, { type: "buffer" });
XLSX.writeFile(wb, path.join(out, "sheetjs.xlsx"), { bookType: "xlsx" });
XLSX.writeFile(wb, path.join(out, "sheetjs.xlsb"), { bookType: "xlsb" });
XLSX.writeFile(wb, path.join(out, "sheetjs-sst.xlsb"), { bookType: "xlsb", bookSST: true });
const dated = XLSX.read(data, { type: "buffer", cellDates: true });
XLSX.writeFile(dated, path.join(out, "sheetjs-dates.xlsx"), { bookType: "xlsx", cellDates: true });

const name = (wb.Workbook.Names || []).find((n) => n.Name.toLowerCase() === `q_${item}`);
if (!name) throw new Error(`no defined name q_${item}`);
const m = /^'?(.+?)'?!\$?([A-Z]+)\$?(\d+)$/.exec(name.Ref);
wb.Sheets[m[1]][`${m[2]}${m[3]}`] = { t: "n", v: Number(value) };
XLSX.writeFile(wb, path.join(out, "sheetjs-corrected.xlsx"), { bookType: "xlsx" });
console.log(XLSX.version);
