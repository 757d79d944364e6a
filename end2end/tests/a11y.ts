/**
 * The checks of WCAG 2.2 AA that run on every screen (SPEC §6): axe-core's
 * rules, and the size of each target.
 */
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';

/** The axe tags of WCAG 2.0, 2.1 and 2.2, levels A and AA. */
export const wcagTags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/** Runs axe on `page`; returns `rule: help (targets)` per violation. */
export async function axeViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(wcagTags).analyze();
  return results.violations.map(
    (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`,
  );
}

/** The smallest target size WCAG 2.2 (2.5.8) allows, in CSS px. */
export const minTarget = 24;

/**
 * The visible targets (buttons, links in the header, navigation and main
 * content, checkboxes, radio buttons) smaller than 24×24 CSS px, as
 * `text: width×height`.
 */
export async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate((min) => {
    const targets = document.querySelectorAll<HTMLElement>(
      'button, header a, nav a, main a, dialog a, input[type=checkbox], input[type=radio]',
    );
    return [...targets]
      .filter((el) => el.checkVisibility())
      .map((el) => ({ el, box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.width < min || box.height < min)
      .map(({ el, box }) => {
        const name = el.textContent?.trim() || el.id || el.outerHTML.slice(0, 60);
        return `${name}: ${box.width.toFixed(1)}×${box.height.toFixed(1)}`;
      });
  }, minTarget);
}
