// Parses LogQL expressions with Grafana's own LogQL grammar (@grafana/lezer-logql).
// stdin: a JSON array of strings. stdout: a JSON array with, for each expression, null when it
// parses cleanly or {"pos": <0-based offset>, "message": "..."} for the first syntax error.
// Lezer parsers recover from errors instead of failing, so an error shows up as an error node
// (type.isError) in the tree; that node's position is the one reported.
import { readFileSync } from "node:fs";
import { parser } from "@grafana/lezer-logql";

function firstError(expr) {
  const tree = parser.parse(expr);
  let found = null;
  tree.iterate({
    enter(node) {
      if (found !== null) return false;
      if (node.type.isError) {
        found = node.from;
        return false;
      }
      return true;
    },
  });
  if (found === null) return null;
  const near = expr.slice(found, found + 20);
  return { pos: found, message: `syntax error at offset ${found} near ${JSON.stringify(near)}` };
}

const exprs = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(exprs.map(firstError)));
