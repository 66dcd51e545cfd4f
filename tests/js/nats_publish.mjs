// Publishes one message to a JetStream stream with the npm `nats` client and waits for the
// stream's ack. Usage: node nats_publish.mjs URL SUBJECT BODY [HEADER=VALUE ...]
// Prints {"stream", "seq"} from the ack.
import { connect, headers } from "nats";

const [url, subject, body, ...pairs] = process.argv.slice(2);
if (!url || !subject || body === undefined) {
  console.error("usage: node nats_publish.mjs URL SUBJECT BODY [HEADER=VALUE ...]");
  process.exit(2);
}
const nc = await connect({ servers: url });
const h = headers();
for (const pair of pairs) {
  const at = pair.indexOf("=");
  h.append(pair.slice(0, at), pair.slice(at + 1));
}
try {
  const ack = await nc.jetstream().publish(subject, new TextEncoder().encode(body),
                                           pairs.length ? { headers: h } : {});
  console.log(JSON.stringify({ stream: ack.stream, seq: ack.seq }));
} catch (err) {
  // 503: no stream takes this subject (yet).
  console.error(`publish to ${subject} failed: ${err.message}`);
  process.exitCode = 1;
}
await nc.drain();
