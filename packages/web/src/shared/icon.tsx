import type { ComponentChildren } from 'preact';

// Inline SVG icons: the pages load no images or fonts.

export interface IconProps {
  size?: number;
}

/** What every icon shares: a 24-unit outline drawn in the text colour, hidden from screen readers. */
export function Icon({ size = 18, strokeWidth = 2, children }: IconProps & { strokeWidth?: number; children: ComponentChildren }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width={strokeWidth} aria-hidden="true">
      {children}
    </svg>
  );
}
