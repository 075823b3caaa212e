/**
 * WAV files for the bots: read 16-bit PCM mono at 48 kHz (what the stage speaks), write the same.
 * Anything else is refused with a message that says how to convert it (ffmpeg -ar 48000 -ac 1).
 */
import fs from 'node:fs';
import { SAMPLE_RATE } from './tone.js';

export function readWav(file: string): Buffer {
  const data = fs.readFileSync(file);
  if (data.toString('ascii', 0, 4) !== 'RIFF' || data.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file} is not a WAV file`);
  let offset = 12;
  let format: { channels: number; rate: number; bits: number; codec: number } | undefined;
  while (offset + 8 <= data.length) {
    const id = data.toString('ascii', offset, offset + 4);
    const size = data.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = {
        codec: data.readUInt16LE(body),
        channels: data.readUInt16LE(body + 2),
        rate: data.readUInt32LE(body + 4),
        bits: data.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!format) throw new Error(`${file}: data before format`);
      if (format.codec !== 1 || format.channels !== 1 || format.rate !== SAMPLE_RATE || format.bits !== 16) {
        throw new Error(
          `${file} must be 16-bit PCM, mono, ${SAMPLE_RATE} Hz (convert: ffmpeg -i in.wav -ac 1 -ar ${SAMPLE_RATE} -c:a pcm_s16le out.wav)`,
        );
      }
      return data.subarray(body, Math.min(data.length, body + size));
    }
    offset = body + size + (size % 2);
  }
  throw new Error(`${file} has no audio data`);
}

export function writeWav(file: string, pcm: Buffer): void {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(SAMPLE_RATE, 24);
  header.writeUInt32LE(SAMPLE_RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(pcm.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, pcm]));
}
