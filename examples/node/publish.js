// A source that publishes to SatuPintu with MQTT.js: a dry run on the sandbox first, then live.
//
//   npm ci    (in examples/node)
//   BROKER=127.0.0.1 PORT=1883 MQTT_USER=bpbd-awlr MQTT_PASSWORD=... SOURCE=awlr-sungai-pilowo node publish.js
//
// Exit 0 when the dry run said ok and the live reading was acknowledged (QoS 1); 1 when the dry run refused it.
'use strict';
const mqtt = require('mqtt');

const broker = process.env.BROKER || '127.0.0.1';
const port = Number(process.env.PORT || 1883);
const city = process.env.CITY || 'morotai';
const source = process.env.SOURCE || 'awlr-sungai-pilowo';
const reading = { values: { water_level_cm: 120.5, rain_mm_h: 2.0 } }; // no ts: the time we receive it

async function main() {
  const client = await mqtt.connectAsync(`mqtt://${broker}:${port}`, {
    clientId: `${source}-example-js`,
    username: process.env.MQTT_USER || undefined,
    password: process.env.MQTT_PASSWORD || undefined,
    will: { topic: `city/${city}/status/${source}`, payload: 'offline', qos: 1, retain: true },
  });
  try {
    const answer = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer on test-result within 20 s')), 20000);
      client.on('message', (topic, payload) => {
        if (topic === `city/${city}/test-result/${source}`) {
          clearTimeout(timer);
          resolve(JSON.parse(payload.toString()));
        }
      });
    });
    await client.subscribeAsync([`city/${city}/test-result/${source}`, `city/${city}/rejected/${source}`], { qos: 1 });

    // 1. The sandbox: checked like the live topic, stored nowhere.
    await client.publishAsync(`city/${city}/test/sensor/${source}`, JSON.stringify(reading), { qos: 1 });
    const result = await answer;
    console.log('dry run:', JSON.stringify(result));
    if (!result.ok) {
      console.error('refused in the dry run: not publishing live');
      return 1;
    }
    for (const w of result.warnings) console.error('warning:', w.reason, w.detail);

    // 2. Live, QoS 1.
    await client.publishAsync(`city/${city}/status/${source}`, 'online', { qos: 1, retain: true });
    await client.publishAsync(`city/${city}/sensor/${source}`, JSON.stringify(reading), { qos: 1 });
    console.log(`published live on city/${city}/sensor/${source}`);
    return 0;
  } finally {
    await client.endAsync();
  }
}

main().then((code) => process.exit(code), (err) => { console.error(err.message); process.exit(2); });
