import unittest

import main


class GreetingTest(unittest.TestCase):
    def test_lines_repeat_the_greeting(self):
        lines = main.greeting_lines()
        self.assertTrue(lines)
        self.assertEqual(len(set(lines)), 1)


if __name__ == "__main__":
    unittest.main()
