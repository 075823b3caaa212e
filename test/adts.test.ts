/**
 * The broadcast's parts as ADTS (src/broadcast/adts.ts), checked against ffmpeg: the real encoder
 * (AacEncoder, as a space's mix runs it) encodes a tone with clicks; its fMP4 parts and the ADTS made
 * from them are both decoded by ffmpeg, and must give the same PCM — the same AAC frames, bit for bit,
 * with the headers ffmpeg's own ADTS parser accepts. ffprobe must read the stream as AAC-LC, 48 kHz,
 * mono. Bad input is refused with a clear error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { AacDecoder } from '../src/bots/aac-decoder.js';
import { FRAME_SAMPLES, toneFrame, withClick } from '../src/bots/tone.js';
import { adtsConfig, adtsHeader, fragmentToAdts } from '../src/broadcast/adts.js';
import { AacEncoder } from '../src/media/aac-encoder.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';

const ffmpeg = findFfmpeg();

async function decode(data: Buffer, format: 'mp4' | 'adts'): Promise<Buffer> {
  const pcm: Buffer[] = [];
  const decoder = new AacDecoder(ffmpeg, (b) => pcm.push(b), format);
  decoder.write(data);
  await decoder.end();
  assert.equal(decoder.errors, '', `ffmpeg decoding ${format}`);
  return Buffer.concat(pcm);
}

async function encodeTone(seconds: number): Promise<{ init: Buffer; fragments: Array<{ moof: Buffer; mdat: Buffer }> }> {
  let init: Buffer | undefined;
  const fragments: Array<{ moof: Buffer; mdat: Buffer }> = [];
  const encoder = new AacEncoder(
    { ffmpeg, bitrate: 64_000, fragmentMs: 245 },
    {
      init: (data) => {
        init = data;
      },
      fragment: (moof, mdat) => fragments.push({ moof, mdat }),
      died: (reason) => assert.fail(`the encoder died: ${reason}`),
    },
  );
  const frames = (seconds * 48_000) / FRAME_SAMPLES;
  for (let i = 0; i < frames; i++) encoder.write(withClick(toneFrame(440, i), (i + 1) * FRAME_SAMPLES));
  await encoder.end();
  assert.ok(init, 'an init segment');
  return { init, fragments };
}

test('ffmpeg decodes the ADTS made from the parts to the same PCM as the parts themselves', async () => {
  const { init, fragments } = await encodeTone(3);
  assert.ok(fragments.length >= 10, `${fragments.length} parts`);
  const config = adtsConfig(init);
  assert.deepEqual(config, { objectType: 2, frequencyIndex: 3, channels: 1 }, 'AAC-LC, 48 kHz, mono');

  const adts = Buffer.concat(fragments.map((f) => fragmentToAdts(config, f.moof, f.mdat)));
  const mp4 = Buffer.concat([init, ...fragments.flatMap((f) => [f.moof, f.mdat])]);
  const [fromParts, fromAdts] = await Promise.all([decode(mp4, 'mp4'), decode(adts, 'adts')]);
  assert.equal(fromAdts.length, fromParts.length, 'as many samples');
  assert.ok(fromAdts.equals(fromParts), 'the same samples, bit for bit');

  // One part alone is a whole ADTS stream too (a listener may start on any part).
  assert.ok((await decode(fragmentToAdts(config, fragments[5]!.moof, fragments[5]!.mdat), 'adts')).length > 0);

  const probe = spawnSync(
    ffmpeg.replace(/ffmpeg$/, 'ffprobe'),
    ['-v', 'error', '-f', 'aac', '-show_entries', 'stream=codec_name,profile,sample_rate,channels', '-of', 'json', 'pipe:0'],
    { input: adts },
  );
  if (probe.error === undefined) {
    const stream = JSON.parse(probe.stdout.toString()).streams[0];
    assert.deepEqual(
      { codec: stream.codec_name, profile: stream.profile, rate: stream.sample_rate, channels: stream.channels },
      { codec: 'aac', profile: 'LC', rate: '48000', channels: 1 },
    );
  }
});

test('bad input is refused with a clear error', async () => {
  const { init, fragments } = await encodeTone(1);
  const config = adtsConfig(init);
  const { moof, mdat } = fragments[1]!;
  assert.throws(() => adtsConfig(Buffer.from('not an mp4 at all')), /MP4|moov|box/i);
  assert.throws(() => adtsConfig(fragments[0]!.moof), /moov/);
  assert.throws(() => fragmentToAdts(config, moof, mdat.subarray(0, mdat.length - 10)), /outside its mdat/);
  assert.throws(() => adtsHeader(config, 9000), /does not fit/);
  assert.throws(() => adtsConfig(Buffer.concat([init.subarray(0, init.length - 40)])), /./);
});
