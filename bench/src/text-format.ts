/**
 * Output text laid out the way the repository's formatter (Biome) lays it
 * out, so result files can be committed and still pass `npm run lint`.
 */

const lineWidth = 140;

/** A markdown table with padded cells: `align[i]` 'right' right-aligns column i. */
export function markdownTable(header: string[], align: ('left' | 'right')[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(3, title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const pad = (cell: string, i: number): string => {
    const width = widths[i] as number;
    return align[i] === 'right' ? cell.padStart(width) : cell.padEnd(width);
  };
  const line = (cells: string[]): string => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (align[i] === 'right' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** JSON with objects always expanded and arrays of scalars on one line when they fit. */
export function formatJson(value: unknown): string {
  return `${render(value, '', 0)}\n`;
}

function render(value: unknown, indent: string, prefix: number): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((item) => item === null || typeof item !== 'object')) {
      const flat = `[${value.map((item) => JSON.stringify(item) ?? 'null').join(', ')}]`;
      // The line also holds the indent, the key and a trailing comma.
      if (prefix + flat.length + 1 <= lineWidth) return flat;
      // Biome fills an array of numbers that does not fit on one line: as many to a line as fit.
      const numbers = value.every((item) => typeof item === 'number' && Number.isFinite(item));
      if (numbers) return `[\n${fill(value.map(String), inner)}\n${indent}]`;
    }
    return `[\n${value.map((item) => inner + render(item, inner, inner.length)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, item]) => item !== undefined);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([key, item]) => {
    const head = `${inner}${JSON.stringify(key)}: `;
    return head + render(item, inner, head.length);
  });
  return `{\n${lines.join(',\n')}\n${indent}}`;
}

/** Items joined with `, `, lines broken where the next item (and its comma) would pass the line width. */
function fill(items: string[], indent: string): string {
  const lines: string[] = [];
  let line = '';
  items.forEach((item, i) => {
    const comma = i < items.length - 1 ? ',' : '';
    if (line && line.length + 1 + item.length + comma.length <= lineWidth) line += ` ${item}${comma}`;
    else {
      if (line) lines.push(line);
      line = `${indent}${item}${comma}`;
    }
  });
  lines.push(line);
  return lines.join('\n');
}
