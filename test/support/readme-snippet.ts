import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT } from './spawn-service.ts'

/** The example service URL of the README's snippets, replaced by the service under test. */
export const README_BASE_URL = 'https://auth.example.com'
export const SDK_ENTRY = join(REPO_ROOT, 'sdk/src/index.ts')

/**
 * The code block of README.md that follows the comment `<!-- name: ... -->`, exactly as written but for the
 * service URL: so that the tests run the README's code, and a README that stops working fails them.
 */
export async function readmeSnippet(name: string, baseUrl: string): Promise<string> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8')
  const match = new RegExp(`<!-- ${name}:[^>]*-->\\n\`\`\`ts\\n([\\s\\S]*?)\\n\`\`\``).exec(readme)
  if (!match) throw new Error(`README.md has no snippet marked <!-- ${name}: -->`)
  if (!match[1]!.includes(README_BASE_URL)) throw new Error(`the ${name} snippet no longer names ${README_BASE_URL}`)
  return match[1]!.replaceAll(README_BASE_URL, baseUrl)
}
