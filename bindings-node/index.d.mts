export * from './dist/index.js'
import * as sealtrail from './dist/index.js'
export default sealtrail
