import { FlowSpec, param, step } from '@tributary/core';

/** The smallest flow: three steps in a line, one parameter, one artifact. */
export class HelloFlow extends FlowSpec {
  @param({ default: 'world', help: 'who to greet' }) name!: string;
  greeting!: string;

  @step start() {
    this.greeting = `Hello, ${this.name}!`;
    this.next(this.shout);
  }

  @step shout() {
    this.greeting = this.greeting.toUpperCase();
    console.log(this.greeting);
    this.next(this.end);
  }

  @step end() {
    console.log(`done: ${this.greeting}`);
  }
}
