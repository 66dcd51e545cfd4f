// Publishes one message at QoS 1 with the npm `mqtt` client, as an edge device would, and
// waits for the broker's PUBACK. Usage: node mqtt_publish.mjs URL TOPIC BODY
import mqtt from "mqtt";

const [url, topic, body] = process.argv.slice(2);
if (!url || !topic || body === undefined) {
  console.error("usage: node mqtt_publish.mjs URL TOPIC BODY");
  process.exit(2);
}
const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 });
await client.publishAsync(topic, body, { qos: 1 });
await client.endAsync();
console.log(JSON.stringify({ topic }));
