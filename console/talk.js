// The Talk page's browser side, inside the page's iframe (st.iframe): take the microphone, join the room with the token
// the server minted (CALL, set just before this script), publish the microphone, play the agent's audio.
// LivekitClient is the UMD bundle the app ships (console/static/livekit-client.umd.js).
const statusLine = document.getElementById("status");
const hangUp = document.getElementById("hang-up");
const say = (text) => { statusLine.textContent = text; };

async function talk() {
  if (typeof LivekitClient === "undefined") {
    say("The LiveKit browser client did not load: the console was built without `make console-client`.");
    return;
  }
  let microphone;
  try {
    microphone = await LivekitClient.createLocalAudioTrack({ echoCancellation: true, noiseSuppression: true });
  } catch (error) {
    say(`No microphone (${error.name}): allow this page to use it, then start a new call.`);
    return;
  }
  say("Microphone ready. Connecting to the agent…");
  const room = new LivekitClient.Room();
  room.on(LivekitClient.RoomEvent.TrackSubscribed, (track) => {
    if (track.kind === "audio") document.getElementById("audio").appendChild(track.attach());
  });
  room.on(LivekitClient.RoomEvent.Disconnected, () => {
    microphone.stop();
    hangUp.disabled = true;
    say("The call ended. Start a new call to talk again.");
  });
  hangUp.onclick = () => room.disconnect();
  try {
    await room.connect(CALL.url, CALL.token);
  } catch (error) {
    microphone.stop();
    say(`Can't reach the LiveKit server at ${CALL.url} (${error.message}). Check LIVEKIT_URL, then start a new call.`);
    return;
  }
  await room.localParticipant.publishTrack(microphone);
  await room.startAudio();
  hangUp.disabled = false;
  say("Connected: speak to the receptionist. The agent joins in a few seconds.");
}

talk();
