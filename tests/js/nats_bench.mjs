// Publishes timestamped messages to JetStream for bench/events_bench.py. Each body is the
// publish time in Unix microseconds, so the function can compute the delivery latency.
// Usage: node nats_bench.mjs URL SUBJECT COUNT GAP_MS   (GAP_MS 0: as fast as acks allow)
import { connect } from "nats";

const [url, subject, countText, gapText] = process.argv.slice(2);
const count = Number(countText);
const gap = Number(gapText);
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const nc = await connect({ servers: url });
const js = nc.jetstream();
const enc = new TextEncoder();
if (gap > 0) {
  for (let i = 0; i < count; i++) {
    await js.publish(subject, enc.encode(String(nowUs())));
    await new Promise((r) => setTimeout(r, gap));
  }
} else {
  for (let i = 0; i < count; i += 100) {
    const acks = [];
    for (let k = i; k < Math.min(count, i + 100); k++) {
      acks.push(js.publish(subject, enc.encode(String(nowUs()))));
    }
    await Promise.all(acks);
  }
}
await nc.drain();
