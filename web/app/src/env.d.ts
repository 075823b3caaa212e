// hls.js's package exports `./light` without types; it is the same API as the full build.
declare module 'hls.js/light' {
  import Hls from 'hls.js';
  export default Hls;
}
