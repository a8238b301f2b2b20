// The guided tour: a first visit is offered a short walkthrough that starts the quick demo and points
// at the charts, the step inspector and pass@k as they fill in. Taking or declining it is remembered
// in localStorage, so the offer appears once. The offer sits in the page's flow (it takes no focus on
// load); the tour's steps are a non-modal dialog that takes focus, closes on Escape and then gives
// focus to the page's title.

import { useEffect, useRef, useState } from 'react';
import { appStore, useApp, type RunView } from '../store.ts';
import { isActive, startRun } from './run-actions.ts';

/** localStorage key: 'dismissed' or 'taken' once the offer was answered. */
const TOUR_KEY = 'webgrpo.tour';

interface TourStep {
  id: string;
  title: string;
  text: string;
  /** The id of the tab that shows the target (App.tsx's set-up steps and results views). */
  tab: string;
  /** The element pointed at. */
  target: () => Element | null | undefined;
  /** Whether what it points at has filled in yet (else the step says it is waiting). */
  ready?: (run: RunView | null) => boolean;
  waiting?: string;
}

const section = (headingId: string) => document.getElementById(headingId)?.closest('section');

const STEPS: TourStep[] = [
  {
    id: 'train',
    title: 'The quick demo is running',
    text: 'A tiny model learns two-digit sums. Each step it writes a few answers per problem, a reward checks them, and GRPO nudges it towards the answers that beat their group. First it measures how often it already solves held-out sums.',
    tab: 'setup-tab-train',
    target: () => document.querySelector('[data-testid="train-start"]')?.closest('section'),
  },
  {
    id: 'charts',
    title: 'Charts',
    text: 'Reward is the share of correct answers per step: it should climb. Entropy shows how unsure the model is; the step time shows where the seconds go. Hover a chart for exact values, or smooth the noisy curves.',
    tab: 'results-tab-charts',
    target: () => section('charts-heading'),
    ready: (run) => (run?.metrics.length ?? 0) > 0,
    waiting: 'Waiting for the first step…',
  },
  {
    id: 'inspector',
    title: 'Step inspector',
    text: 'Open any step: each group of answers, their rewards and advantages, every token’s share of the loss, and whether the update made each answer likelier. Rewarded answers should move up, penalised ones down.',
    tab: 'results-tab-inspector',
    target: () => section('inspector-heading'),
    ready: (run) => run !== null && run.settings.inspectEvery > 0 && run.metrics.length >= run.settings.inspectEvery,
    waiting: 'Waiting for the first inspected step…',
  },
  {
    id: 'passk',
    title: 'pass@k',
    text: 'pass@k is the chance that at least one of k answers is right, on problems the model never trains on. RL tends to lift pass@1 most: it sharpens what the model can already do.',
    // The pass@k chart itself (it appears with the first held-out evaluation), else the charts.
    tab: 'results-tab-charts',
    target: () => document.querySelector('[data-testid="chart-passk"]') ?? section('charts-heading'),
    ready: (run) => (run?.basePassAtK ?? null) !== null,
    waiting: 'Waiting for the first held-out evaluation…',
  },
];

function remembered(): string | null {
  try {
    return localStorage.getItem(TOUR_KEY);
  } catch {
    return 'unavailable';
  }
}

function remember(answer: 'dismissed' | 'taken'): void {
  try {
    localStorage.setItem(TOUR_KEY, answer);
  } catch {
    // Storage blocked: the offer simply comes back next time.
  }
}

function TourDialog({ onClose }: { onClose: () => void }) {
  const [index, setIndex] = useState(0);
  const run = useApp((s) => s.run);
  const heading = useRef<HTMLHeadingElement>(null);
  const step = STEPS[index];
  const last = index === STEPS.length - 1;
  // Point at the step's target (its tab opened as a click would, scrolled into view, outlined) and
  // put focus on the step's heading.
  useEffect(() => {
    const tab = document.getElementById(step.tab);
    if (tab?.getAttribute('aria-selected') !== 'true') tab?.click();
    const target = step.target();
    target?.classList.add('tour-target');
    const frame = requestAnimationFrame(() => target?.scrollIntoView({ block: 'center' }));
    heading.current?.focus();
    return () => {
      cancelAnimationFrame(frame);
      target?.classList.remove('tour-target');
    };
  }, [step]);
  const ready = step.ready ? step.ready(run) : true;
  return (
    <div
      className="tour"
      role="dialog"
      aria-modal="false"
      aria-labelledby="tour-title"
      aria-describedby="tour-text"
      data-testid="tour"
      data-step={step.id}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          onClose();
        }
      }}
    >
      <h2 id="tour-title" ref={heading} tabIndex={-1}>
        {step.title}{' '}
        <span className="muted">
          ({index + 1}/{STEPS.length})
        </span>
      </h2>
      <p id="tour-text">{step.text}</p>
      {!ready && step.waiting && (
        <p className="muted" data-testid="tour-waiting" aria-live="polite">
          {step.waiting}
        </p>
      )}
      <div className="tour-buttons">
        <button type="button" className="primary" data-testid="tour-next" onClick={() => (last ? onClose() : setIndex(index + 1))}>
          {last ? 'Done' : 'Next'}
        </button>
        {!last && (
          <button type="button" data-testid="tour-skip" onClick={onClose}>
            Skip the tour
          </button>
        )}
      </div>
    </div>
  );
}

/** The offer's button that had focus is gone once answered: focus goes to the page's title instead. */
function focusPageTitle(): void {
  const title = document.querySelector('h1');
  title?.setAttribute('tabindex', '-1');
  title?.focus();
}

export function Tour() {
  const [offered, setOffered] = useState(() => remembered() === null);
  const [touring, setTouring] = useState(false);
  if (touring)
    return (
      <TourDialog
        onClose={() => {
          setTouring(false);
          focusPageTitle();
        }}
      />
    );
  if (!offered) return null;
  return (
    <section className="tour-offer" aria-labelledby="tour-offer-title" data-testid="tour-offer">
      <h2 id="tour-offer-title">New here?</h2>
      <p>A two-minute tour starts the quick demo and shows what to watch: the charts, the step inspector and pass@k.</p>
      <div className="tour-buttons">
        <button
          type="button"
          className="primary"
          data-testid="tour-take"
          onClick={() => {
            remember('taken');
            setOffered(false);
            const { run, settings } = appStore.getState();
            if (!isActive(run)) startRun(settings);
            setTouring(true);
          }}
        >
          Take the tour
        </button>
        <button
          type="button"
          data-testid="tour-dismiss"
          onClick={() => {
            remember('dismissed');
            setOffered(false);
            focusPageTitle();
          }}
        >
          No thanks
        </button>
      </div>
    </section>
  );
}
