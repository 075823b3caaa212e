/**
 * Glass-to-ear in a real player: the space's share page in headless Chromium, its Listen button
 * (hls.js in low-latency mode, as a listener gets it), sampled for `Date.now() − hls.playingDate`:
 * how far behind the wall clock the audio playing now was mixed (the program date time is the mix
 * time less the jitter buffer's delay, so about when it was said). The page joins and plays by itself.
 */
import { type Percentiles, percentiles } from '../src/bots/listener-bot.js';
// The one way the project starts Chromium (tests, benchmarks, screenshots).
import { launchBrowser } from '../test/helpers/browser.js';

export async function playerLatency(pageUrl: string, seconds: number): Promise<{ lagMs: Percentiles | null; stalls: number }> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(pageUrl);
    // The share page joins and starts the player by itself (the browser allows autoplay here).
    await page.waitForFunction(() => (globalThis as any).document.getElementById('player')?.currentTime > 3, undefined, {
      timeout: 20_000,
    });
    const lags: number[] = [];
    let stalls = 0;
    const end = Date.now() + seconds * 1000;
    let last = 0;
    while (Date.now() < end) {
      const sample = await page.evaluate(() => {
        const hls = (globalThis as any).rostrumPlayer;
        const at = hls?.playingDate as Date | null;
        return {
          lag: at ? Date.now() - at.getTime() : null,
          time: (globalThis as any).document.getElementById('player').currentTime as number,
        };
      });
      if (sample.lag !== null) lags.push(sample.lag);
      if (last > 0 && sample.time <= last) stalls++;
      last = sample.time;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return { lagMs: percentiles(lags), stalls };
  } finally {
    await browser.close();
  }
}
