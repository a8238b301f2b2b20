// Tabs after the WAI-ARIA tabs pattern (DESIGN.md §16): a tablist whose tabs take arrow keys, Home and End (the
// focused tab is shown at once), and one tabpanel per tab. Every panel stays mounted, only hidden,
// so what was typed or picked in a step survives a switch to another one.

import { createContext, type KeyboardEvent, type ReactNode, useRef } from 'react';

/** Whether the tab panel around a component is shown (true outside any tabs). */
export const TabShown = createContext(true);

export interface TabView {
  id: string;
  label: ReactNode;
  content: ReactNode;
}

interface TabsProps {
  /** Prefix of the element ids and test ids (`tab-<name>-<id>`), unique on the page. */
  name: string;
  /** The tablist's accessible name. */
  label: string;
  views: TabView[];
  selected: string;
  onSelect: (id: string) => void;
}

/** Where each key moves the focus in a list of `count` tabs, from tab `at`. */
function nextTab(key: string, at: number, count: number): number | null {
  if (key === 'ArrowRight') return (at + 1) % count;
  if (key === 'ArrowLeft') return (at + count - 1) % count;
  if (key === 'Home') return 0;
  if (key === 'End') return count - 1;
  return null;
}

export function Tabs({ name, label, views, selected, onSelect }: TabsProps) {
  const tabs = useRef<(HTMLButtonElement | null)[]>([]);
  function onKeyDown(e: KeyboardEvent, at: number) {
    const next = nextTab(e.key, at, views.length);
    if (next === null) return;
    e.preventDefault();
    onSelect(views[next].id);
    tabs.current[next]?.focus();
  }
  return (
    <div className={`tabs tabs-${name}`}>
      <div role="tablist" aria-label={label} className="tablist">
        {views.map((view, at) => (
          <button
            key={view.id}
            ref={(el) => {
              tabs.current[at] = el;
            }}
            type="button"
            role="tab"
            id={`${name}-tab-${view.id}`}
            data-testid={`tab-${name}-${view.id}`}
            aria-selected={view.id === selected}
            aria-controls={`${name}-panel-${view.id}`}
            tabIndex={view.id === selected ? 0 : -1}
            onClick={() => onSelect(view.id)}
            onKeyDown={(e) => onKeyDown(e, at)}
          >
            {view.label}
          </button>
        ))}
      </div>
      {views.map((view) => (
        <div
          key={view.id}
          role="tabpanel"
          id={`${name}-panel-${view.id}`}
          aria-labelledby={`${name}-tab-${view.id}`}
          className="tabpanel"
          hidden={view.id !== selected}
          // Focusable, as the pattern asks: a panel may start with text, and it scrolls on its own.
          // biome-ignore lint/a11y/noNoninteractiveTabindex: the WAI-ARIA tabs pattern puts a tabpanel in the tab order
          tabIndex={0}
        >
          <TabShown.Provider value={view.id === selected}>{view.content}</TabShown.Provider>
        </div>
      ))}
    </div>
  );
}
