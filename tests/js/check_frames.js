// Independent check of LoRaWAN frames with the npm package lora-packet:
// reads JSON lines {phy, nwk_s_key?, app_s_key?, app_key?} (hex) on stdin,
// writes one JSON line per frame: its fields, whether its MIC verifies and,
// for data frames, the decrypted FRMPayload.
"use strict";
const lora = require("lora-packet");
const readline = require("readline");

const hex = (b) => (b ? Buffer.from(b).toString("hex") : null);
const key = (k) => (k ? Buffer.from(k, "hex") : undefined);

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const item = JSON.parse(line);
  const out = {};
  try {
    const packet = lora.fromWire(Buffer.from(item.phy, "hex"));
    const buffers = packet.getBuffers();
    out.mtype = packet.getMType();
    if (out.mtype === "Join Request") {
      out.app_eui = hex(buffers.AppEUI);
      out.dev_eui = hex(buffers.DevEUI);
      out.dev_nonce = hex(buffers.DevNonce);
      out.mic_ok = lora.verifyMIC(packet, undefined, key(item.app_key));
    } else if (out.mtype === "Join Accept") {
      const clear = lora.fromWire(lora.decryptJoinAccept(packet, key(item.app_key)));
      out.dev_addr = hex(clear.getBuffers().DevAddr);
      out.mic_ok = lora.verifyMIC(clear, undefined, key(item.app_key));
    } else {
      const msb = item.fcnt_msb ? Buffer.from(item.fcnt_msb, "hex") : undefined;
      out.dir = packet.getDir();
      out.dev_addr = hex(buffers.DevAddr);
      out.fcnt = packet.getFCnt();
      out.port = packet.getFPort();
      out.adr = packet.getFCtrlADR();
      out.ack = packet.getFCtrlACK();
      out.fopts = hex(buffers.FOpts);
      out.mic_ok = lora.verifyMIC(packet, key(item.nwk_s_key), undefined, msb);
      if (out.port !== null) {
        out.payload = hex(lora.decrypt(packet, key(item.app_s_key), key(item.nwk_s_key), msb));
      }
    }
  } catch (err) {
    out.error = String(err);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
