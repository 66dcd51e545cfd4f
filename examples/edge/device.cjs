// A fleet of simulated edge devices: each publishes temperature and humidity readings at QoS 1
// to sensors/DEVICE/env on an MQTT broker, with the npm `mqtt` client. When done it prints, as
// one JSON object, what each device sent, so the aggregates can be checked against it.
//
//   npm install mqtt@5.16.0 && node device.cjs [--url mqtt://127.0.0.1:1883] [--devices 3]
//       [--count 10] [--interval-ms 1000]
//
// The readings are a fixed function of the device and the sequence number, so two runs send
// the same values.
const mqtt = require("mqtt");

function options(argv) {
  const o = { url: "mqtt://127.0.0.1:1883", devices: 3, count: 10, "interval-ms": 1000 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "");
    if (!(name in o) || argv[i + 1] === undefined) {
      console.error(`unknown or incomplete option ${argv[i]}; see the top of device.cjs`);
      process.exit(2);
    }
    o[name] = name === "url" ? argv[i + 1] : Number(argv[i + 1]);
  }
  return o;
}

function reading(device, index, seq) {
  const temp = Math.round((20 + 2 * index + 3 * Math.sin(seq / 3)) * 100) / 100;
  const humidity = Math.round((40 + 5 * Math.cos(seq / 4)) * 10) / 10;
  return { device, seq, temp, humidity, ts: Date.now() };
}

async function main() {
  const o = options(process.argv.slice(2));
  const client = await mqtt.connectAsync(o.url, { reconnectPeriod: 1000, connectTimeout: 5000 });
  const sent = {};
  for (let seq = 0; seq < o.count; seq++) {
    await Promise.all(Array.from({ length: o.devices }, (_, i) => {
      const r = reading(`dev-${i}`, i, seq);
      const s = (sent[r.device] ??= { count: 0, sum: 0, min: r.temp, max: r.temp });
      s.count++;
      s.sum += r.temp;
      s.min = Math.min(s.min, r.temp);
      s.max = Math.max(s.max, r.temp);
      return client.publishAsync(`sensors/${r.device}/env`, JSON.stringify(r), { qos: 1 });
    }));
    if (o["interval-ms"] > 0 && seq + 1 < o.count) {
      await new Promise((resolve) => setTimeout(resolve, o["interval-ms"]));
    }
  }
  await client.endAsync();
  for (const s of Object.values(sent)) s.mean = Math.round((s.sum / s.count) * 1000) / 1000;
  console.log(JSON.stringify({ sent }));
}

main().catch((e) => {
  console.error(`device: ${e.message}`);
  process.exit(1);
});
